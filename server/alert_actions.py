"""Acting on alerts over HTTP (acknowledge). Placeholder until the risk work lands."""


def add_routes(server, r) -> None:
    return None
