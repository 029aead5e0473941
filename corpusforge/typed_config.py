"""Typed configuration from TOML: frozen dataclasses, `--set section.key=value` overrides, errors
that name the key. Generic and free of Spark, so the corpus config (`corpusforge.config`) and the
trainer's config (`corpusforge.train.config`) share one reader and one set of coercion rules.

Example::

    cfg = build_config(MyConfig, read_toml("run.toml"), overrides=["optim.lr=1e-4"])
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from corpusforge.errors import ConfigError


def read_toml(path: str | Path | None) -> dict[str, Any]:
    """The tables of a TOML config file ({} for no file); a missing or bad file is a ConfigError."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path}: invalid TOML: {err}") from None


def build_config(cls: type, raw: dict[str, Any], overrides: list[str] = ()) -> Any:
    """A config dataclass `cls` from plain data plus `--set section.key=value` overrides.

    An int where a float is declared is widened; a wrong type names the key:

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True, kw_only=True)
    ... class Optim:
    ...     lr: float = 0.1
    ...     epochs: int = 3
    >>> build_config(Optim, {"lr": 1})
    Optim(lr=1.0, epochs=3)
    >>> build_config(Optim, {"epochs": "three"})
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: config: 'epochs' must be int, got str 'three'
    """
    raw = json.loads(json.dumps(raw))  # a deep copy: overrides never touch the caller's data
    for item in overrides:
        _apply_override(raw, item)
    return _build(cls, raw, prefix="")


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    try:  # a TOML literal (number, bool, array, quoted string) ...
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:  # ... else the bare text as a string
        value = text
    *sections, leaf = key.strip().split(".")
    node = raw
    for section in sections:
        node = node.setdefault(section, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {item!r}: {section!r} is not a section")
    node[leaf] = value


def _build(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of keys, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"config: unknown key {prefix + unknown[0]!r}; expected one of {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        key = prefix + name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key + ".")
        else:
            values[name] = _coerce(key, value, hint)
    return cls(**values)


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"config: {key!r} must be one of {list(typing.get_args(hint))}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config: {key!r} must be a list, got {value!r}")
        (item_type, _ellipsis) = typing.get_args(hint)
        return tuple(_coerce(f"{key}[{i}]", v, item_type) for i, v in enumerate(value))
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"config: {key!r} must be a table, got {value!r}")
        return {str(k): _coerce(f"{key}.{k}", v, value_type) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            if option is type(None) and value is None:
                return None
            try:
                return _coerce(key, value, option)
            except ConfigError:
                continue
        raise ConfigError(f"config: {key!r} must be {hint}, got {value!r}")
    expected = hint
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(
            f"config: {key!r} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    return value
