"""Root conftest: makes systems/, specs/ and stateful_tests/ importable by name."""
