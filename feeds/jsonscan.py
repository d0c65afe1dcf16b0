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


CHUNK = 1 << 20   # bytes scanned at a time: the scan's memory stays a few times this, whatever the body


def _chunks(text: bytes):
    """For each chunk of the text in turn: (position, byte, depth after it) of each bracket, brace and comma
    outside strings."""
    # An escaped backslash or quote never delimits a string; two inert bytes in its place keep every position.
    clean = text.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    quotes = depth = 0
    for off in range(0, len(clean), CHUNK):
        b = np.frombuffer(clean, dtype=np.uint8, count=min(CHUNK, len(clean) - off), offset=off)
        pos = np.flatnonzero(_STRUCTURAL[b])
        ch = b[pos]
        quote = ch == _QUOTE
        outside = ((np.cumsum(quote, dtype=np.int64) + quotes) & 1) == 0   # an even number of quotes before it
        quotes += int(np.count_nonzero(quote))
        keep = outside & ~quote
        pos, ch = pos[keep] + off, ch[keep]
        d = np.cumsum(_STEP[ch], dtype=np.int64) + depth
        if d.size:
            depth = int(d[-1])
            yield pos, ch, d


def deeper_than(text: bytes, levels: int) -> bool:
    """Whether the text nests more than `levels` arrays and objects (a lone object is 1 level)."""
    if text.count(b"[") + text.count(b"{") <= levels:   # the usual event: no scan
        return False
    return any(int(d.max()) > levels for _pos, _ch, d in _chunks(text))


class NotAnArray(ValueError):
    pass


def array_items(body: bytes, limit: int) -> tuple[int, list[tuple[int, int, int]]]:
    """Count the elements of a JSON array body; if there are at most `limit`, also list each one as (start,
    end, depth), its text being body[start:end] and depth its nesting (an object holding only numbers: 1).

    Raises NotAnArray when the text is not one array (an unbalanced bracket, something after it, ...)."""
    text = body.rstrip(_SPACE)
    first = len(body) - len(body.lstrip(_SPACE))
    seps: list[int] = []    # positions of the commas between elements, while there are at most `limit`
    peaks: list[int] = []   # the deepest depth inside each element closed so far
    n_seps = below = 0      # below: structure at depth < 1 (only the final bracket may be)
    open_peak, head, last = 0, None, (-1, -1)
    for pos, ch, d in _chunks(text):
        if head is None:
            head = (int(pos[0]), int(ch[0]))
        last = (int(pos[-1]), int(d[-1]))
        below += int(np.count_nonzero(d < 1))
        cut = np.flatnonzero((ch == _COMMA) & (d == 1))
        n_seps += cut.size
        if n_seps >= limit:
            continue
        seps += pos[cut].tolist()
        # an element's segment ends with its comma; the chunk's first segment continues the open element
        starts = cut + 1
        segs = np.maximum.reduceat(d, [0, *starts[starts < d.size].tolist()]).tolist()
        segs[0] = max(segs[0], open_peak)
        if starts.size and starts[-1] == d.size:
            peaks += segs
            open_peak = 0
        else:
            peaks += segs[:-1]
            open_peak = segs[-1]
    if head != (first, _OPEN_ARRAY) or last != (len(text) - 1, 0) or below != 1:
        raise NotAnArray("body must be one JSON array")
    if not n_seps and not body[first + 1:last[0]].strip(_SPACE):
        return 0, []   # []
    n = n_seps + 1
    if n > limit:
        return n, []
    peaks.append(open_peak)
    starts = [first + 1, *(p + 1 for p in seps)]
    ends = [*seps, last[0]]
    # an element's own levels: the depth inside it, less the array's level
    return n, [(s, e, max(0, p - 1)) for s, e, p in zip(starts, ends, peaks)]
