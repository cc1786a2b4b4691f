"""Planted bugs for the crash harness's own tests, run in harness worker processes.

Each module is a copy or patch of one fixed variant's code with one small,
realistic bug - never an edit of the real file - and exposes the same entry
points as its system (``pay``/``recover``, ``consume``, ``client``,
``serve``/``recover``), so a test points the system's driver at it
(``driver.target = "tests.crash_mutants.<module>"``) and asserts that the
search finds the violation.
"""
