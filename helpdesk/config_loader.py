"""Turns a TOML table into the frozen dataclasses of :mod:`helpdesk.config`.

Every mistake is reported as a :class:`ConfigError` naming the file and the
dotted key, so an administrator can fix it without reading a traceback.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

T = TypeVar("T")

# Field metadata key: the value comes from the environment variable named by
# another field (``password_env``), never from the file itself.
ENV_OF = "env_of"
# Field metadata key: the secret must be set when the section is enabled.
REQUIRED_WHEN_ENABLED = "required_when_enabled"
# Field metadata key: set by the program, never by the file.
INTERNAL = "internal"


class ConfigError(Exception):
    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


def build(cls: type[T], raw: Mapping[str, Any], *, source: str, environ: Mapping[str, str],
          path: str = "") -> T:
    """Build dataclass ``cls`` from ``raw``, checking keys and types."""
    if not isinstance(raw, Mapping):
        raise ConfigError(source, path or "(top level)", f"expected a table, got {_kind(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields or _hidden(fields[key]):
            known = ", ".join(sorted(k for k, f in fields.items() if not _hidden(f)))
            hint = ""
            if key in fields and ENV_OF in fields[key].metadata:
                hint = (f" (secrets never live in the file; set the environment variable "
                        f"named by {_join(path, fields[key].metadata[ENV_OF])})")
            raise ConfigError(source, _join(path, key), f"unknown key{hint}; known keys: {known}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = _join(path, name)
        if _hidden(f):
            continue
        if name in raw:
            values[name] = _convert(hints[name], raw[name], source=source, key=key,
                                    environ=environ)
        elif dataclasses.is_dataclass(hints[name]):
            # A section left out of the file still reads its secrets from the
            # environment (TANYA_API_TOKEN with no config file at all).
            values[name] = build(hints[name], {}, source=source, environ=environ, path=key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(source, key, "missing key")
    for name, f in fields.items():
        if ENV_OF not in f.metadata:
            continue
        env_field = f.metadata[ENV_OF]
        env_name = values.get(env_field, fields[env_field].default)
        secret = environ.get(env_name) if isinstance(env_name, str) and env_name else None
        enabled = values.get("enabled", getattr(fields.get("enabled"), "default", True))
        if secret is None and f.metadata.get(REQUIRED_WHEN_ENABLED) and enabled:
            raise ConfigError(source, _join(path, env_field),
                              f"environment variable {env_name} is not set")
        values[name] = secret
    return cls(**values)


def _convert(tp: Any, value: Any, *, source: str, key: str, environ: Mapping[str, str]) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(args) != len(get_args(tp)):
            return None
        return _convert(args[0], value, source=source, key=key, environ=environ)
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            raise ConfigError(source, key, f"must be one of {choices}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ConfigError(source, key, f"expected a list, got {_kind(value)}")
        item_tp = get_args(tp)[0]
        items = [_convert(item_tp, v, source=source, key=f"{key}[{i}]", environ=environ)
                 for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(source, key, f"expected a table, got {_kind(value)}")
        val_tp = get_args(tp)[1] if get_args(tp) else Any
        return types.MappingProxyType({
            str(k): _convert(val_tp, v, source=source, key=_join(key, str(k)), environ=environ)
            for k, v in value.items()
        })
    if dataclasses.is_dataclass(tp):
        return build(tp, value, source=source, environ=environ, path=key)  # type: ignore[arg-type]
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(source, key, f"expected a number, got {_kind(value)}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, key, f"expected an integer, got {_kind(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {_kind(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(source, key, f"expected a string, got {_kind(value)}")
        return value
    raise ConfigError(source, key, f"unsupported type {tp!r}")  # a schema mistake, not a user's


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _hidden(f: dataclasses.Field[Any]) -> bool:
    return ENV_OF in f.metadata or INTERNAL in f.metadata
