"""log_aggregator/segments without the fsync of a batch: acked lines live in the page cache only.

A subclass, not a patch (see log_aggregator_no_tail_cut.py).
"""

from __future__ import annotations

from typing import Any

from systems import log_aggregator as la
from systems.log_aggregator import read as read  # the reader the driver names


class Writer(la.Writer):
    def _write_batch(self, batch: list[tuple[int, str, int, str]]) -> None:
        self._segment(batch[0][0])
        found = []
        data = b""
        for seq, service, ts, text in batch:
            rec = la.encode(self.source, seq, service, ts, text)
            found.append((la.Line(self.source, seq, service, ts, text), self.offset + len(data), len(rec)))
            data += rec
        la.files.write(self.fd, data)  # MUTANT: no fsync before the index and the acks
        self.offset += len(data)
        self.in_segment += len(batch)
        self._index(self.name, found)
        for seq, *_ in batch:
            la.report({"ack": seq})


def serve(root: str, variant: str, source: str, lines: list[list[Any]], batch: int) -> int:
    return la.run_writer(Writer(root, variant, source, batch), lines)
