"""The connectors' config file: one YAML file, one entry per connector under `connectors:`.

Secrets never sit in the file itself nor on a command line: a secret field `x` is given as `x_env: NAME` (an
environment variable) or `x_file: PATH` (a file whose first line is the secret). `secret(cfg, "x")` reads it.
The example and every field are in docs/connectors.md.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from feeds.schema import ROOM_RE

KINDS = ("qianchuan", "doudian", "push")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SECRET_FIELDS = ("app_secret", "secret", "refresh_token", "access_token")


class ConfigError(ValueError):
    pass


def load(path: Path) -> dict[str, dict]:
    """Connector name -> its config (with `name` and `kind`); ConfigError saying what is wrong."""
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    items = doc.get("connectors") if isinstance(doc, dict) else None
    if not isinstance(items, dict):
        raise ConfigError(f"{path}: expected a mapping `connectors:` of name -> settings")
    out = {}
    for name, cfg in items.items():
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ConfigError(f"connector name {name!r}: lower-case letters, digits, - and _, at most 32")
        if not isinstance(cfg, dict) or cfg.get("kind") not in KINDS:
            raise ConfigError(f"connector {name}: `kind` must be one of {', '.join(KINDS)}")
        for k in SECRET_FIELDS:
            if k in cfg:
                raise ConfigError(f"connector {name}: give `{k}` as `{k}_env: VARIABLE` or `{k}_file: PATH`, "
                                  "never in the file itself")
        rooms = _rooms(cfg)
        for room in rooms:
            if not ROOM_RE.match(str(room)):
                raise ConfigError(f"connector {name}: {room!r} is not a room name")
        out[name] = {**cfg, "name": name}
    return out


def _rooms(cfg: dict) -> list:
    rooms = cfg.get("rooms") or {}
    if isinstance(rooms, dict):
        return list(rooms)
    return [cfg["room"]] if "room" in cfg else []


def secret(cfg: dict, field: str, required: bool = True) -> str | None:
    """The secret `field` of a connector, from `<field>_env` or `<field>_file`."""
    if env := cfg.get(f"{field}_env"):
        value = os.environ.get(str(env), "")
        if value:
            return value.strip()
        if required:
            raise ConfigError(f"connector {cfg['name']}: environment variable {env} (for {field}) is not set")
        return None
    if file := cfg.get(f"{field}_file"):
        try:
            return (Path(file).read_text().splitlines() or [""])[0].strip()
        except OSError as e:
            raise ConfigError(f"connector {cfg['name']}: cannot read {field}_file: {e.strerror}") from None
    if required:
        raise ConfigError(f"connector {cfg['name']}: `{field}_env` or `{field}_file` is needed")
    return None
