"""Bearer tokens for programs, scoped to rooms and to ingest or read (stub: the links engineer builds it)."""
from __future__ import annotations


async def lookup(r, bearer: str):
    """The token's Identity, or None for a revoked or unknown token."""
    return None
