"""Placeholder until this job lands."""


def run(r) -> None:
    return None
