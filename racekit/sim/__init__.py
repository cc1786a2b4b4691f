"""Deterministic simulation of distributed systems (``racekit.sim``).

Nodes are single-threaded actors in one process under virtual time (integer
ms); every nondeterministic decision goes through one Chooser, so a run is
a list of ints.  See docs/simulator.md.

* ``world.py``    - World and THE event loop (``World.run``)
* ``node.py``     - Node base class, NodeContext, client Request/Reply
* ``net.py``      - messages and (one-way) partitions
* ``clock.py``    - per-node skew, drift, backward jumps
* ``disk.py``     - per-node disk: write/append/fsync; a crash loses unsynced writes
* ``config.py``   - WorldConfig, FaultBudget, client scripts (JSON-able)
* ``machine.py``  - SimMachine (the simulator's Engine), Property, linearizable()
* ``stateful.py`` - RuleBasedStateMachine wrapper

Choosers, strategies and the minimizer are the shared kernel's
(:mod:`racekit.choice`); a system's ``Machine`` imports what it needs from
here and from :mod:`racekit`.
"""

from __future__ import annotations

from racekit.choice import Draw, HypothesisDraw, MinimalDraw, RandomDraw
from racekit.sim.clock import PPM, NodeClock
from racekit.sim.config import ClientOp, ClientScript, FaultBudget, WorldConfig
from racekit.sim.disk import Disk
from racekit.sim.machine import Property, SimMachine, linearizable, make_scenario_json
from racekit.sim.net import Message, Network
from racekit.sim.node import Node, NodeContext, Reply, Request
from racekit.sim.result import Note, RunResult, Violation
from racekit.sim.world import Check, World

__all__ = [
    "PPM",
    "Check",
    "ClientOp",
    "ClientScript",
    "Disk",
    "Draw",
    "FaultBudget",
    "HypothesisDraw",
    "Message",
    "MinimalDraw",
    "Network",
    "Node",
    "NodeClock",
    "NodeContext",
    "Note",
    "Property",
    "RandomDraw",
    "Reply",
    "Request",
    "RunResult",
    "SimMachine",
    "Violation",
    "World",
    "WorldConfig",
    "linearizable",
    "make_scenario_json",
]
