"""racekit: break concurrent and distributed code before production does.

The public surface is small on purpose; everything else lives in modules
documented in docs/architecture.md.
"""

from __future__ import annotations

__version__ = "0.1.0"
