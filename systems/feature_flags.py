"""Feature flags: nodes evaluate one flag for users; a controller's changes are broadcast.

WHY a model: a flag rollout is only safe if a user's answer is a function of (user, flag
version) — otherwise a user flips between code paths mid-session — and a kill switch is
only a switch if every node stops serving the feature soon after it is thrown.

Each node keeps the flag's config ``(version, percent, killed)``.  ``eval(user)`` answers
``[version, on]``; ``set(percent)`` and ``kill`` bump the version at the receiving node,
which broadcasts the new config and replies once every peer has acknowledged it.
"""

from __future__ import annotations

import zlib
from typing import Any

from racekit import System, Variant
from racekit.sim import Node, Request

FLAG = "new_checkout"


def bucket(flag: str, user: str) -> int:
    """A user's stable bucket in 0..99: crc32 is the same in every process (hash() is salted)."""
    return zlib.crc32(f"{flag}:{user}".encode()) % 100


def sticky_on(flag: str, user: str, percent: int) -> bool:
    """On iff the user's bucket is below the percentage: raising it only adds users."""
    return bucket(flag, user) < percent


class FlagNode(Node):
    """Config replication shared by both variants; ``decide`` is the evaluation rule."""

    def __init__(self) -> None:
        self.version: tuple[int, str] = (0, "")
        self.percent = 50
        self.killed = False
        self.waiting: dict[int, tuple[str, Request, set[str]]] = {}

    def decide(self, user: str, req: int) -> bool:
        raise NotImplementedError

    def adopt(self, version: tuple[int, str], percent: int, killed: bool) -> None:
        """Newer config wins; a kill is sticky (no later percentage change revives it).

        Versions are (counter, node id): two nodes bumping at once still name two versions.
        """
        if version > self.version:
            self.version, self.percent = version, percent
        self.killed = self.killed or killed

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if msg.name == "eval":
                on = not self.killed and self.decide(msg.args[0], msg.req)
                self.reply(src, msg, [list(self.version), on])
                return
            percent = msg.args[0] if msg.name == "set" else self.percent
            self.adopt((self.version[0] + 1, self.ctx.node_id), percent, msg.name == "kill")
            self.waiting[msg.req] = (src, msg, set(self.ctx.peers))
            for peer in self.ctx.peers:
                self.send(peer, ("config", msg.req, self.version, self.percent, self.killed))
            if not self.ctx.peers:
                self.reply(src, msg, list(self.version))
        elif msg[0] == "config":
            self.adopt((msg[2][0], msg[2][1]), msg[3], msg[4])
            self.send(src, ("ack", msg[1]))
        elif msg[0] == "ack" and msg[1] in self.waiting:
            client, request, pending = self.waiting[msg[1]]
            pending.discard(src)
            if not pending:
                del self.waiting[msg[1]]
                self.reply(client, request, list(self.version))


class RandomPerRequest(FlagNode):
    """Broken: rolls the dice per request (seeded by the request id), so answers flip."""

    def decide(self, user: str, req: int) -> bool:
        return zlib.crc32(f"{FLAG}:{user}:{req}".encode()) % 100 < self.percent


class Sticky(FlagNode):
    """Fixed: the answer is a function of (flag, user, percent) — the same every request."""

    def decide(self, user: str, req: int) -> bool:
        return sticky_on(FLAG, user, self.percent)


SYSTEM = System(
    name="feature_flags",
    summary="Feature flags: sticky percentage rollout, versions and a kill switch",
    kind="sim",
    variants=[
        Variant("random_per_request", lambda: RandomPerRequest, expect="violation",
                property="sticky_per_version",
                bug="decides per request, so one user's answer flips within one flag version"),
        Variant("sticky", lambda: Sticky, expect="correct"),
    ],
)
