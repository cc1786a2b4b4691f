"""A small EDN reader: enough for Jepsen and Knossos histories.

Supported: ``nil``, ``true``/``false``, integers (``N`` suffix allowed),
floats, strings (escapes ``\\" \\\\ \\n \\t \\r``), characters, keywords,
symbols, lists and vectors (both read as tuples, as Clojure compares them
equal), maps (:class:`FrozenMap`, a hashable dict), sets (frozenset),
tagged literals (:class:`Tagged`), ``#_`` discard, ``;`` comments, and
commas as whitespace.  Everything read is hashable, so values can go
straight into operation args and spec states.

Errors raise :class:`~racekit.errors.HistoryFormatError` naming the source
and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from racekit.errors import HistoryFormatError


@dataclass(frozen=True, order=True)
class Keyword:
    """An EDN keyword such as ``:read`` (``name`` is ``"read"``)."""

    name: str

    def __repr__(self) -> str:
        return f":{self.name}"


@dataclass(frozen=True, order=True)
class Symbol:
    """An EDN symbol such as ``foo``."""

    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Tagged:
    """A tagged literal ``#tag value`` kept as read (``#inst``, ``#uuid``...)."""

    tag: str
    value: Any


class FrozenMap(dict[Any, Any]):
    """An EDN map: a dict that hashes (do not mutate it once shared)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))


_TOKEN = re.compile(
    r"""
    (?P<ws>[\s,]+)
  | (?P<comment>;[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<badstring>")
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<discard>\#_)
  | (?P<tag>\#[A-Za-z][^\s,\[\](){}";]*)
  | (?P<char>\\(?:newline|space|tab|return|.))
  | (?P<atom>[^\s,\[\](){}";\\]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}
_CLOSER = {"[": "]", "(": ")", "{": "}", "#{": "}"}

Token = tuple[str, str, int]  # kind, text, line


def _tokenize(text: str, source: str) -> list[Token]:
    tokens: list[Token] = []
    line = 1
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise HistoryFormatError(f"{source}:{line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup
        assert kind is not None
        value = m.group()
        if kind == "badstring":
            raise HistoryFormatError(f"{source}:{line}: string is never closed")
        if kind not in ("ws", "comment"):
            tokens.append((kind, value, line))
        line += value.count("\n")
        pos = m.end()
    return tokens


def _unescape(body: str, source: str, line: int) -> str:
    out = []
    chars = iter(body)
    for c in chars:
        if c != "\\":
            out.append(c)
            continue
        e = next(chars, "")
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
        elif e == "u":
            code = "".join(next(chars, "") for _ in range(4))
            try:
                out.append(chr(int(code, 16)))
            except ValueError:
                raise HistoryFormatError(f"{source}:{line}: bad unicode escape \\u{code}") from None
        else:
            raise HistoryFormatError(f"{source}:{line}: unknown string escape \\{e}")
    return "".join(out)


def _atom(text: str, source: str, line: int) -> Any:
    if text == "nil":
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    if text.startswith(":"):
        if len(text) == 1:
            raise HistoryFormatError(f"{source}:{line}: empty keyword ':'")
        return Keyword(text[1:])
    if _INT.fullmatch(text):
        return int(text.rstrip("N"))
    if _FLOAT.fullmatch(text):
        return float(text.rstrip("M"))
    if text[0].isdigit():
        raise HistoryFormatError(f"{source}:{line}: not a number: {text!r}")
    return Symbol(text)


class _Parser:
    def __init__(self, tokens: list[Token], source: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.source = source

    def error(self, line: int, message: str) -> HistoryFormatError:
        return HistoryFormatError(f"{self.source}:{line}: {message}")

    def form(self) -> Any:
        """The next form, skipping ``#_`` discarded ones."""
        while True:
            if self.pos >= len(self.tokens):
                last = self.tokens[-1][2] if self.tokens else 1
                raise self.error(last, "unexpected end of input")
            kind, text, line = self.tokens[self.pos]
            self.pos += 1
            if kind == "discard":
                self.form()
                continue
            if kind == "string":
                return _unescape(text[1:-1], self.source, line)
            if kind == "char":
                return _CHARS.get(text[1:], text[1:])
            if kind == "atom":
                return _atom(text, self.source, line)
            if kind == "tag":
                return Tagged(text[1:], self.form())
            if kind == "close":
                raise self.error(line, f"unexpected {text!r}")
            return self.collection(text, line)

    def collection(self, opener: str, line: int, lines: list[int] | None = None) -> Any:
        items: list[Any] = []
        closer = _CLOSER[opener]
        while True:
            if self.pos >= len(self.tokens):
                raise self.error(line, f"{opener!r} opened here is never closed")
            kind, text, item_line = self.tokens[self.pos]
            if kind == "close":
                self.pos += 1
                if text != closer:
                    raise self.error(item_line, f"expected {closer!r} to close {opener!r} from line {line}, got {text!r}")
                break
            if kind == "discard":
                self.pos += 1
                self.form()
                continue
            items.append(self.form())
            if lines is not None:
                lines.append(item_line)
        if opener == "{":
            if len(items) % 2:
                raise self.error(line, "map has an odd number of forms")
            try:
                return FrozenMap(zip(items[::2], items[1::2], strict=True))
            except TypeError as exc:
                raise self.error(line, f"map key is not hashable: {exc}") from None
        if opener == "#{":
            return frozenset(items)
        return tuple(items)


# -- fast path -------------------------------------------------------------
#
# Histories run to megabytes (Elle's huge-scc.edn: 2.8 MB, ~700k tokens), and
# the token-list parser above spends most of its time building tokens and
# tracking lines.  The fast path below reads straight from the regex scanner
# with an explicit stack and caches atoms (keywords and small ints repeat);
# lines are counted only where a record starts.  On anything irregular it
# gives up, and the precise parser above runs and reports the error with its
# line, so both paths accept the same texts and fail with the same messages.

_FAST = re.compile(
    r""""(?:[^"\\]|\\.)*"|\#\{|\#_|[\[\](){}]|;[^\n]*|\\(?:newline|space|tab|return|.)|[^\s,\[\](){}";\\]+|[^\s,]""",
    re.DOTALL,
)
_OPENERS = {"[": "]", "(": ")", "{": "}", "#{": "}"}


class _Irregular(Exception):
    """The fast path met something it leaves to the precise parser."""


def _fast_read(text: str, source: str, record_depth: int) -> list[tuple[int, Any]]:
    """Forms at ``record_depth`` (0: top level; 1: inside one top-level collection), with lines."""
    out: list[tuple[int, Any]] = []
    # frames: [opener, items, line]; a pending "#_" or tag is a frame with items None
    stack: list[list[Any]] = []
    cache: dict[str, Any] = {}
    openers = _OPENERS
    line, counted = 1, 0
    depth = 0  # open collections on the stack
    top_seen = False
    for m in _FAST.finditer(text):
        tok = m.group()
        c = tok[0]
        if depth == record_depth:
            if c == ";":
                continue
            if not (stack and stack[-1][1] is None):
                start = m.start()  # a record starts here: count the lines up to it
                line += text.count("\n", counted, start)
                counted = start
        if record_depth == 1 and depth == 0:
            if top_seen or (tok != "[" and tok != "("):
                raise _Irregular()
            top_seen = True
        if tok in openers:
            stack.append([tok, [], line])
            depth += 1
            continue
        if c == "#" and (tok == "#_" or (len(tok) > 1 and tok[1].isalpha())):
            stack.append([tok, None, line])
            continue
        if c == "]" or c == ")" or c == "}":
            if not stack or stack[-1][1] is None or openers[stack[-1][0]] != tok:
                raise _Irregular()
            opener, items, _ = stack.pop()
            depth -= 1
            if opener == "{":
                if len(items) % 2:
                    raise _Irregular()
                value: Any = FrozenMap(zip(items[::2], items[1::2], strict=True))
            elif opener == "#{":
                value = frozenset(items)
            else:
                value = tuple(items)
        elif c == '"':
            if len(tok) < 2:  # a quote that is never closed
                raise _Irregular()
            body = tok[1:-1]
            value = _unescape(body, source, line) if "\\" in body else body
        elif c == "\\":
            if len(tok) < 2:
                raise _Irregular()
            value = _CHARS.get(tok[1:], tok[1:])
        elif c == ";":
            continue
        else:
            value = cache.get(tok, cache)
            if value is cache:
                value = cache[tok] = _atom(tok, source, line)
        # a complete form: feed it to pending discards/tags, then to its collection
        while stack and stack[-1][1] is None:
            marker = stack.pop()[0]
            if marker == "#_":
                break
            value = Tagged(marker[1:], value)
        else:
            if stack:
                stack[-1][1].append(value)
                if depth == 1 and record_depth == 1:
                    out.append((line, value))
            elif record_depth == 0:
                out.append((line, value))
    if stack:
        raise _Irregular()
    return out


def loads(text: str, source: str = "<string>") -> Any:
    """Read exactly one EDN form from ``text``."""
    forms = read_all(text, source)
    if len(forms) != 1:
        raise HistoryFormatError(f"{source}:1: expected one EDN form, found {len(forms)}")
    return forms[0][1]


def read_all(text: str, source: str = "<string>") -> list[tuple[int, Any]]:
    """Every top-level form with the line it starts on."""
    try:
        return _fast_read(text, source, 0)
    except (_Irregular, HistoryFormatError, TypeError, ValueError):
        pass
    parser = _Parser(_tokenize(text, source), source)
    out: list[tuple[int, Any]] = []
    while parser.pos < len(parser.tokens):
        kind, _, line = parser.tokens[parser.pos]
        if kind == "discard":
            parser.pos += 1
            parser.form()
            continue
        out.append((line, parser.form()))
    return out


def read_records(text: str, source: str = "<string>") -> list[tuple[int, Any]]:
    """The records of a history file, each with its line.

    Two layouts occur: one top-level vector or list of records (Knossos's
    test data), or one record per top-level form (Jepsen's ``history.edn``).
    """
    first = _FAST.search(text)
    while first is not None and first.group().startswith(";"):
        first = _FAST.search(text, first.end())
    if first is None or first.group() not in ("[", "("):
        return read_all(text, source)
    try:
        return _fast_read(text, source, 1)
    except (_Irregular, HistoryFormatError, TypeError, ValueError):
        pass
    parser = _Parser(_tokenize(text, source), source)
    tokens = parser.tokens
    if tokens and tokens[0][0] == "open" and tokens[0][1] in ("[", "("):
        kind, opener, line = tokens[0]
        parser.pos = 1
        lines: list[int] = []
        items = parser.collection(opener, line, lines)
        if parser.pos < len(tokens):
            raise parser.error(tokens[parser.pos][2], "unexpected content after the history")
        return list(zip(lines, items, strict=True))
    return read_all(text, source)


def dumps(value: Any) -> str:
    """``value`` written back as EDN: ``nil``, ``true``, ``[1 2]``, ``{:x 1}``, ``"s"``.

    The inverse of :func:`loads` for everything it reads (tuples print as
    vectors), so messages can show values the way the input wrote them.
    Anything else falls back to ``repr``.
    """
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (Keyword, Symbol, int, float)):
        return repr(value) if not isinstance(value, bool) else str(value).lower()
    if isinstance(value, str):
        body = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{body}"'
    if isinstance(value, (tuple, list)):
        return "[" + " ".join(dumps(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dumps(k)} {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (frozenset, set)):
        return "#{" + " ".join(sorted(dumps(v) for v in value)) + "}"
    if isinstance(value, Tagged):
        return f"#{value.tag} {dumps(value.value)}"
    return repr(value)
