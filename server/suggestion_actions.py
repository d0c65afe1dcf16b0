"""Approving and rejecting ad-spend suggestions over HTTP. Placeholder until the insights work lands."""


def add_routes(server, r) -> None:
    return None
