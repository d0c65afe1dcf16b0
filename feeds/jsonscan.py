"""A cheap look at the structure of JSON text before any parser sees it: how deep it nests, and where the
elements of a top-level array begin and end.

Parsers recurse once per level (msgspec and Python's json give up near 1,000 levels with a RecursionError) and
build an object per element (8 MiB of `[0,0,…]` is four million of them). This scan does neither: it looks
only at the bytes that can be structure (quotes, brackets, braces, commas) with numpy, so a body can be
counted and an over-deep event found in a few milliseconds per MiB, with memory a small multiple of the text.
It does not validate: text it accepts still goes through a real parser.
"""
from __future__ import annotations

import numpy as np

_STRUCTURAL = np.zeros(256, dtype=bool)
_STRUCTURAL[list(b'"[]{},')] = True
_STEP = np.zeros(256, dtype=np.int8)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1
_QUOTE, _COMMA, _OPEN_ARRAY = ord('"'), ord(","), ord("[")
_SPACE = b" \t\r\n"


def _structure(text: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position, byte, depth after it) of each bracket, brace and comma outside strings."""
    # An escaped backslash or quote never delimits a string; two inert bytes in its place keep every position.
    clean = text.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    b = np.frombuffer(clean, dtype=np.uint8)
    pos = np.flatnonzero(_STRUCTURAL[b])
    ch = b[pos]
    quote = ch == _QUOTE
    outside = (np.cumsum(quote, dtype=np.int64) & 1) == 0   # an even number of quotes before it
    keep = outside & ~quote
    pos, ch = pos[keep], ch[keep]
    return pos, ch, np.cumsum(_STEP[ch], dtype=np.int64)


def deeper_than(text: bytes, levels: int) -> bool:
    """Whether the text nests more than `levels` arrays and objects (a lone object is 1 level)."""
    if text.count(b"[") + text.count(b"{") <= levels:   # the usual event: no scan
        return False
    _pos, _ch, depth = _structure(text)
    return bool(depth.size) and int(depth.max()) > levels


class NotAnArray(ValueError):
    pass


def array_items(body: bytes, limit: int) -> tuple[int, list[tuple[int, int, int]]]:
    """Count the elements of a JSON array body; if there are at most `limit`, also list each one as (start,
    end, depth), its text being body[start:end] and depth its nesting (an object holding only numbers: 1).

    Raises NotAnArray when the text is not one array (an unbalanced bracket, something after it, ...)."""
    text = body.rstrip(_SPACE)
    first = len(body) - len(body.lstrip(_SPACE))
    pos, ch, depth = _structure(text)
    if (not pos.size or pos[0] != first or ch[0] != _OPEN_ARRAY or pos[-1] != len(text) - 1
            or depth[-1] != 0 or (depth.size > 1 and depth[:-1].min() < 1)):
        raise NotAnArray("body must be one JSON array")
    seps = np.flatnonzero((ch == _COMMA) & (depth == 1))
    if not seps.size and not body[first + 1:pos[-1]].strip(_SPACE):
        return 0, []   # []
    n = int(seps.size) + 1
    if n > limit:
        return n, []
    bounds = [0, *(seps + 1).tolist()]   # each element's first structural index (after its separator)
    peaks = np.maximum.reduceat(depth, bounds).tolist()
    starts = [first + 1, *(pos[seps] + 1).tolist()]
    ends = [*pos[seps].tolist(), int(pos[-1])]
    # an element's own levels: the depth inside it, less the array's level
    return n, [(s, e, max(0, p - 1)) for s, e, p in zip(starts, ends, peaks)]
