"""Dead letters: what one event (or one room's job run) did that would otherwise stop a part.

The engine and the insight jobs set such an event aside here, with the error, the room and its stream id, and
carry on with the rest. Each is recorded once: a replay after a restart meets the same entry again, and
`record` sees it in `keys.DEAD_SEEN`. The API serves them (`GET /api/deadletters`), `/healthz` counts them and
the risk job's `dead_letter` rule raises an alert for a room that has new ones.
"""
from __future__ import annotations

import time

import orjson

from store import keys
from store.connect import clustered

KEEP = 10000          # entries kept per stream (approximately)
EVENT_CHARS = 8192    # of an event's text kept in its dead letter: ingest stores at most 8 KiB

RECORD_LUA = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then
  return 0
end
for k = 2, #KEYS - 1 do
  redis.call('XADD', KEYS[k], 'MAXLEN', '~', ARGV[3], '*', 'd', ARGV[2])
end
redis.call('INCR', KEYS[#KEYS])
return 1
"""


def record(r, source: str, room: str, error: BaseException | str, stream_id: bytes | str | None = None,
           event: bytes | None = None) -> bool:
    """Set one aside (once); True if it is new. `source`: the part that failed (engine, risk, ads, rerun).

    An event is known by its room and stream id, whichever part meets it first; a job run without an event
    by its part, room and error, so a room whose run fails every 10 s is one dead letter, not a flood."""
    if isinstance(stream_id, bytes):
        stream_id = stream_id.decode()
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    seen = f"{room}|{stream_id}" if stream_id else f"{source}|{room}|{text}"
    rec = {"source": source, "room": room, "stream_id": stream_id, "error": text[:1000], "at": time.time(),
           "event": event[:EVENT_CHARS].decode("utf-8", "replace") if event is not None else None}
    script = r.register_script(RECORD_LUA)
    blob = orjson.dumps(rec)
    if not clustered(r):
        return bool(script(keys=[keys.DEAD_SEEN, keys.DEAD_LETTERS, keys.dead_letters(room), keys.DEAD_COUNT],
                           args=[seen, blob, KEEP]))
    # A cluster refuses one script over the global keys and the room's: the room's list is written after, so
    # a crash between the two leaves it one short, while the global list and count stay exact.
    if not script(keys=[keys.DEAD_SEEN, keys.DEAD_LETTERS, keys.DEAD_COUNT], args=[seen, blob, KEEP]):
        return False
    r.xadd(keys.dead_letters(room), {"d": blob}, maxlen=KEEP, approximate=True)
    return True
