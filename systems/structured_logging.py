"""Structured logging from several processes into one file (seed exercise 33).

Worker processes each handle requests and log one JSON record per request
with its context fields: the worker, the request id (kept in a
``contextvars.ContextVar`` for the request's duration, added to every
record by a ``logging.Filter``) and the message.  Every line of the shared
log must be one JSON object.

Variants (the same logger, formatter and filter; only the handler differs):

* ``split_writes`` - the ``StreamHandler`` of Python < 3.8 (bpo-35046):
  ``stream.write(msg)`` then ``stream.write(terminator)``, two ``write``
  calls per record on an unbuffered ``O_APPEND`` stream.  Another process's
  record can land between a record and its newline: two records on one
  line, an empty line after.
* ``no_append`` - one ``write`` per record, but the file opened
  ``O_WRONLY | O_CREAT`` without ``O_APPEND``: every process writes at its
  own offset, starting at 0, over the others' records.
* ``single_append`` (fixed) - today's ``StreamHandler``: one ``write`` per
  record on an ``O_APPEND`` descriptor.  POSIX makes each such write land
  at the end of the file as one piece (Linux holds the inode lock for a
  regular file's write), so records never mix.
* ``queue_listener`` (fixed) - a ``logging.handlers.QueueHandler`` in each
  worker puts the formatted record on a queue (here a unix datagram
  socket: one record, one datagram); one ``QueueListener`` in the
  collecting process writes every record to the file, one writer, one
  ``write`` per record.

Writes go through ``racekit.crash.files`` (``os.write`` outside a harness;
in a harness worker each write is an operation with a point after it), and
each datagram sent is marked as an ``operation``: the crash harness stops a
worker at each and chooses which worker runs next, which is how the
interleaving of records is controlled.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from racekit import System, Variant
from racekit.crash import files, operation, report

REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="-")
STOP = b"\x00stop"  # the listener's sentinel datagram


# ------------------------------------------------------------ the record
class ContextFilter(logging.Filter):
    """Adds the context fields to every record: the worker and the current request."""

    def __init__(self, worker: str) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.worker
        record.request = REQUEST.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, keys sorted."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "level": record.levelname,
                "worker": getattr(record, "worker", "-"),
                "request": getattr(record, "request", "-"),
                "msg": record.getMessage(),
            },
            sort_keys=True,
        )


@contextmanager
def request_context(request: str) -> Iterator[None]:
    token = REQUEST.set(request)
    try:
        yield
    finally:
        REQUEST.reset(token)


# ------------------------------------------------------------ the handlers
class FdStream:
    """An unbuffered text stream on a file descriptor: every ``write`` is one ``write(2)``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, text: str) -> int:
        return files.write(self.fd, text.encode())

    def flush(self) -> None:
        pass


class TwoWriteHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Python 3.7's ``StreamHandler.emit``: the message, then the terminator (bpo-35046)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            self.stream.write(msg)
            self.stream.write(self.terminator)
            self.flush()
        except Exception:
            self.handleError(record)


class DatagramQueue:
    """The worker's end of the queue: ``put_nowait`` sends one formatted record as one datagram."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def put_nowait(self, record: logging.LogRecord) -> None:
        with operation("send", "log record"):
            self.sock.sendto(str(record.msg).encode(), self.path)

    def close(self) -> None:
        self.sock.close()


class ListenerQueue:
    """The collector's end: ``get`` receives one record; the sentinel stops the listener."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def get(self, block: bool = True) -> logging.LogRecord | None:
        data = self.sock.recv(1 << 16)
        if data == STOP:
            return None  # QueueListener's sentinel
        return logging.makeLogRecord({"msg": data.decode(), "levelno": logging.INFO, "levelname": "INFO"})

    def put_nowait(self, item: object) -> None:
        """Only the listener's sentinel is ever put here (``QueueListener.stop``)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(STOP, self.path)

    def close(self) -> None:
        self.sock.close()
        os.unlink(self.path)


def handler_for(variant: str, log: str, sock: str) -> logging.Handler:
    if variant == "queue_listener":
        return logging.handlers.QueueHandler(DatagramQueue(sock))  # type: ignore[arg-type]
    flags = os.O_WRONLY | os.O_CREAT | (0 if variant == "no_append" else os.O_APPEND)
    stream = FdStream(files.open(log, flags, 0o644))
    if variant == "split_writes":
        return TwoWriteHandler(stream)
    return logging.StreamHandler(stream)


def close_handler(handler: logging.Handler) -> None:
    if isinstance(handler, logging.handlers.QueueHandler):
        handler.queue.close()  # type: ignore[attr-defined]
    elif isinstance(handler, logging.StreamHandler):
        files.close(handler.stream.fd)
    handler.close()


# ------------------------------------------------------------ both ends
def work(log: str, sock: str, variant: str, worker: str, requests: list[str]) -> int:
    """A worker process: handle each request, logging one record inside its context."""
    logger = logging.Logger(f"service.{worker}", logging.INFO)  # not registered: no state across tasks
    handler = handler_for(variant, log, sock)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter(worker))
    logger.addHandler(handler)
    try:
        for request in requests:
            with request_context(request):
                logger.info("handled %s", request)
            report({"logged": request})
    finally:
        close_handler(handler)
    return len(requests)


class Collector:
    """The collecting process's side of ``queue_listener``: a ``QueueListener`` writing the file."""

    def __init__(self, log: str, sock: str) -> None:
        self.queue = ListenerQueue(sock)
        self.out = open(log, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        handler = logging.StreamHandler(self.out)
        handler.setFormatter(logging.Formatter("%(message)s"))
        self.listener = logging.handlers.QueueListener(self.queue, handler)  # type: ignore[arg-type]
        self.listener.start()

    def stop(self) -> None:
        """Drain what was sent, then stop (the sentinel comes after every record already queued)."""
        try:
            self.listener.stop()
        finally:
            self.out.close()
            self.queue.close()


def collector(variant: str, log: str, sock: str) -> Collector | None:
    return Collector(log, sock) if variant == "queue_listener" else None


SYSTEM = System(
    name="structured_logging",
    summary="JSON log records from several processes into one file: split writes, no O_APPEND, one append, a queue",
    kind="proc",
    properties=("valid_json_lines", "each_record_once"),
    variants=[
        Variant(
            "split_writes",
            lambda: "split_writes",
            expect="violation",
            property="valid_json_lines",
            bug="two write calls per record (the message, then the newline): another process's record lands "
            "in between, two records share a line",
        ),
        Variant(
            "no_append",
            lambda: "no_append",
            expect="violation",
            property="each_record_once",
            bug="the log opened without O_APPEND: each process writes at its own offset and overwrites the "
            "other's records",
        ),
        Variant("single_append", lambda: "single_append", expect="correct"),
        Variant("queue_listener", lambda: "queue_listener", expect="correct"),
    ],
)
