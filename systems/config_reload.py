"""Hot reload of a service's configuration while request threads read it (config_service, in one process).

The config service (``systems/config_service.py``) delivers versions to a
service; inside that service two updater threads install them - the push
handler and the poller, so the same version may arrive twice and versions
may arrive out of order - while request threads read the configuration,
with no restart.  A configuration is several fields that only make sense
together (a timeout, a retry count and the endpoint they were tuned for),
so a reader must see one whole version.

* ``in_place``       - one mutable object; the updaters (serialized by a
  lock) assign its fields one by one, readers read them one by one without
  the lock: a reader between two assignments sees fields of two versions
  (a torn read).
* ``unguarded_swap`` - immutable snapshots swapped by one reference
  assignment, so reads are whole; but "install if newer" is a check and
  then an act with no lock: the poller checks v2 > v1, the push handler
  installs v3, then the poller installs v2 - the version goes backwards.
* ``snapshot`` (fixed) - immutable versioned snapshots behind one
  reference (the version pointer): readers load the reference once, with
  no lock, and never wait; updaters build the snapshot first, then compare
  and swap under a lock, so the version only moves forward.  A rollback is
  a new, higher version carrying old content.

Runs under the thread scheduler, traced: the bug is an interleaving of
attribute loads and stores, which only the opcode-level schedule shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from racekit import System, Variant, sync


@dataclass(frozen=True)
class Snapshot:
    """One whole configuration version; never mutated once built."""

    version: int
    timeout_ms: int
    retries: int
    endpoint: str

    def as_read(self) -> tuple[int, int, int, str]:
        return (self.version, self.timeout_ms, self.retries, self.endpoint)


def snapshot_of(version: int, content: str) -> Snapshot:
    """The fields of a named content (``"c2"`` -> timeout 200 ms, 2 retries, api-2)."""
    n = int(content.lstrip("c"))
    return Snapshot(version, 100 * n, n, f"https://api-{n}.internal")


INITIAL = snapshot_of(1, "c1")


class InPlaceConfig:
    """Broken: one mutable object updated field by field under a writers-only lock."""

    def __init__(self) -> None:
        self.version = INITIAL.version
        self.timeout_ms = INITIAL.timeout_ms
        self.retries = INITIAL.retries
        self.endpoint = INITIAL.endpoint
        self.lock = sync.Lock()

    def apply(self, version: int, content: str) -> None:
        new = snapshot_of(version, content)
        with self.lock:
            if version <= self.version:
                return
            self.version = new.version
            self.timeout_ms = new.timeout_ms
            self.retries = new.retries
            self.endpoint = new.endpoint

    def read(self) -> tuple[int, int, int, str]:
        return (self.version, self.timeout_ms, self.retries, self.endpoint)


class UnguardedSwapConfig:
    """Broken: whole snapshots, but install-if-newer is check-then-act."""

    def __init__(self) -> None:
        self.current = INITIAL

    def apply(self, version: int, content: str) -> None:
        if version > self.current.version:  # check ...
            self.current = snapshot_of(version, content)  # ... then act: another install may come between

    def read(self) -> tuple[int, int, int, str]:
        return self.current.as_read()


class SnapshotConfig:
    """Fixed: an immutable snapshot behind one reference; forward-only swap under a lock."""

    def __init__(self) -> None:
        self.current = INITIAL
        self.lock = sync.Lock()

    def apply(self, version: int, content: str) -> None:
        new = snapshot_of(version, content)  # built before taking the lock
        with self.lock:
            if version > self.current.version:
                self.current = new  # one reference assignment: readers see old or new, whole

    def read(self) -> tuple[int, int, int, str]:
        return self.current.as_read()  # one load of the reference; never waits


SYSTEM = System(
    name="config_reload",
    summary="config_service inside one service: hot reload of versioned config while request threads read (no restart)",
    kind="thr",
    variants=[
        Variant(
            "in_place",
            InPlaceConfig,
            expect="violation",
            property="linearizability",
            bug="fields updated one by one in place: a reader between two assignments sees fields of two versions",
        ),
        Variant(
            "unguarded_swap",
            UnguardedSwapConfig,
            expect="violation",
            property="linearizability",
            bug="install-if-newer checks then swaps without a lock: an older version is installed over a newer one",
        ),
        Variant("snapshot", SnapshotConfig, expect="correct"),
    ],
    properties=("linearizability",),
)
