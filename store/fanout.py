"""Publishing: a room's frame by PUBLISH on one Redis, SPUBLISH in the room's slot on a Redis Cluster; other
messages by PUBLISH from a pipeline of either kind."""
from __future__ import annotations

from store import keys
from store.connect import clustered


def frame(pipe, room: str, blob: bytes) -> None:
    """Queue the frame on `pipe` (a pipeline, or a client) of either kind of Redis."""
    if clustered(pipe):
        pipe.execute_command("SPUBLISH", keys.frames_shard(room), blob)
    else:
        pipe.publish(keys.frames(room), blob)


def publish(pipe, channel: str, message) -> None:
    """PUBLISH queued on a pipeline of either kind: a cluster's pipeline refuses its `publish` method, not the
    command (which any node passes on to every node)."""
    pipe.execute_command("PUBLISH", channel, message)
