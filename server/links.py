"""Share links and device links (stub: the links engineer builds it)."""
from __future__ import annotations

LINK_COOKIE = "lw_link"


class LinkRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason   # "expired" | "revoked" | "invalid"


async def lookup(r, value: str):
    """The link's Identity; raises LinkRefused for an expired, revoked or tampered link."""
    raise LinkRefused("invalid")
