"""Publishing a room's frame: PUBLISH on one Redis, SPUBLISH in the room's slot on a Redis Cluster."""
from __future__ import annotations

from store import keys
from store.connect import clustered


def frame(pipe, room: str, blob: bytes) -> None:
    """Queue the frame on `pipe` (a pipeline, or a client) of either kind of Redis."""
    if clustered(pipe):
        pipe.execute_command("SPUBLISH", keys.frames_shard(room), blob)
    else:
        pipe.publish(keys.frames(room), blob)
