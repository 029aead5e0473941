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
from collections.abc import Mapping
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


def build_config(cls: type, raw: dict[str, Any], overrides: list[str] = (),
                 retired: Mapping[str, str] | None = None) -> Any:
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

    A key listed in `retired` (dotted key → what to use instead) is refused with that advice:

    >>> build_config(Optim, {}, ["optim.rate=1"], retired={"optim.rate": "use 'lr'"})
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: config: 'optim.rate' was removed: use 'lr'
    """
    raw = json.loads(json.dumps(raw))  # a deep copy: overrides never touch the caller's data
    for item in overrides:
        _apply_override(raw, item)
    for dotted, instead in (retired or {}).items():
        if _has_key(raw, dotted):
            raise ConfigError(f"config: {dotted!r} was removed: {instead}")
    return _build(cls, raw, prefix="")


def _has_key(raw: dict[str, Any], dotted: str) -> bool:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


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
            values[name] = coerce(key, value, hint)
    return cls(**values)


def coerce(key: str, value: Any, hint: Any) -> Any:
    """Check a TOML value against a dataclass field's type hint and convert it.

    One set of rules for every section: an int where a float is declared is widened, lists
    become the declared tuple or frozenset, and `false` for an optional field (`int | None`,
    `float | None`, ...) means None, i.e. "off" (a threshold rule that does not apply):

    >>> coerce("langid.min_score", False, float | None) is None
    True
    >>> coerce("filters.c4.min_words", True, int | None)
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: config: 'filters.c4.min_words' must be int (or false to turn the rule off), got True
    >>> coerce("x", [[2, 0.1]], tuple[tuple[int, float], ...])
    ((2, 0.1),)
    """
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"config: {key!r} must be one of {list(args)}, got {value!r}")
        return value
    if origin in (tuple, frozenset):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config: {key!r} must be a list, got {value!r}")
        if origin is frozenset:
            return frozenset(coerce(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value))
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"config: {key!r} must be a list of {len(args)} values, got {value!r}")
        return tuple(coerce(f"{key}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        _key_type, value_type = args
        if not isinstance(value, dict):
            raise ConfigError(f"config: {key!r} must be a table, got {value!r}")
        return {str(k): coerce(f"{key}.{k}", v, value_type) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        optional = type(None) in args
        if optional and value is None:
            return None
        if optional and value is False and bool not in options:
            return None  # `false` turns an optional setting (a threshold rule) off
        for option in options:
            try:
                return coerce(key, value, option)
            except ConfigError:
                continue
        off = " (or false to turn the rule off)" if optional else ""
        raise ConfigError(f"config: {key!r} must be {_type_name(options)}{off}, got {value!r}")
    if hint is Any:
        return value
    expected = hint
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(
            f"config: {key!r} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _type_name(options: list[Any]) -> str:
    return " or ".join(getattr(o, "__name__", str(o)) for o in options)
