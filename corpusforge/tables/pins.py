"""Pins: a trainer registers the Delta version it reads, so VACUUM keeps that version's files.

A pin is a small JSON file beside the table's log, `<table>/_pins/<name>.json`, holding the
version and the time of its commit. Delta (Spark and delta-rs) ignores paths that start with
`_`, so pins never show up as data and VACUUM never deletes them. `jobs/maintain.py` vacuums
with a retention of at least the age of the oldest pin's commit (`vacuum_retention_hours`):
every file removed after that commit, which is every file the pinned version still needs
and no later version does, stays.

One call, no Spark, no JVM (delta-rs reads the commit time)::

    from corpusforge.tables.pins import pin, release
    pin("out/tokens", 7, "finetune-2026-12-02")     # before training on version 7
    ...
    release("out/tokens", "finetune-2026-12-02")    # when the run no longer needs it

The bundled trainer pins the version it trains on (`pin_for_run`, named after its run
directory); list and release pins from a shell::

    python -m corpusforge.tables.pins list out/tokens
    python -m corpusforge.tables.pins release out/tokens finetune-try2

Pinning a version keeps its data files, not its log: Delta drops log entries older than the
table's `delta.logRetentionDuration` (30 days by default) at a checkpoint, after which no
reader can open that version. Pins meant to last longer need that property raised. Only
local tables (a path or `file://`) are supported.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from corpusforge.errors import CorpusforgeError

PINS_DIR = "_pins"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PIN_MARGIN_HOURS = 1.0  # more kept than the pin strictly needs: writers' clocks may differ a little


class PinError(CorpusforgeError):
    """A bad table, version or pin name."""

    exit_code = 2


@dataclass(frozen=True, kw_only=True)
class Pin:
    name: str  # who holds it, e.g. the training run's name
    version: int  # the pinned table version
    commit_time: datetime  # UTC time of that version's commit
    pinned_at: datetime  # UTC time the pin was written


def _table_dir(table_uri: str) -> Path:
    uri = str(table_uri)
    if "://" in uri and not uri.startswith("file://"):
        raise PinError(f"pins: only local tables are supported, got {uri!r}")
    path = Path(uri.removeprefix("file://"))
    if not (path / "_delta_log").is_dir():
        raise PinError(f"pins: not a Delta table: {uri}")
    return path


def commit_time(table_uri: str, version: int) -> datetime:
    """UTC time of the commit that made `version` of the table (delta-rs reads the log)."""
    from deltalake import DeltaTable

    path = _table_dir(table_uri)
    table = DeltaTable(str(path))
    latest = table.version()
    if not 0 <= version <= latest:
        raise PinError(f"pins: {path} has versions 0..{latest}, not {version}")
    for entry in table.history():
        if entry.get("version") == version:
            return datetime.fromtimestamp(entry["timestamp"] / 1000, tz=timezone.utc)
    raise PinError(f"pins: the log of version {version} of {path} is gone (log retention); it cannot be pinned")


def pin(table_uri: str, version: int, name: str, *, now: datetime | None = None) -> Pin:
    """Register that `name` reads `version` of the table; VACUUM keeps its files until released.

    Pinning again under the same name moves the pin to the new version.
    """
    if not _NAME.match(name):
        raise PinError(f"pins: name {name!r} must be letters, digits, '.', '_' or '-' (at most 128)")
    path = _table_dir(table_uri)
    held = Pin(name=name, version=int(version), commit_time=commit_time(str(path), int(version)),
               pinned_at=now or datetime.now(timezone.utc))
    folder = path / PINS_DIR
    folder.mkdir(exist_ok=True)
    tmp = folder / f".{name}.json.tmp"
    tmp.write_text(json.dumps({"name": held.name, "version": held.version,
                               "commit_time": held.commit_time.isoformat(), "pinned_at": held.pinned_at.isoformat()}))
    os.replace(tmp, folder / f"{name}.json")  # atomic: VACUUM never sees half a pin
    return held


def release(table_uri: str, name: str) -> bool:
    """Remove the pin `name`; True if there was one."""
    try:
        (_table_dir(table_uri) / PINS_DIR / f"{name}.json").unlink()
    except FileNotFoundError:
        return False
    return True


def list_pins(table_uri: str) -> list[Pin]:
    """The table's pins, oldest commit first."""
    folder = _table_dir(table_uri) / PINS_DIR
    found = []
    for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            raw = json.loads(file.read_text())
            found.append(Pin(name=raw["name"], version=int(raw["version"]),
                             commit_time=datetime.fromisoformat(raw["commit_time"]),
                             pinned_at=datetime.fromisoformat(raw["pinned_at"])))
        except (OSError, ValueError, KeyError) as err:
            raise PinError(f"pins: unreadable pin file {file}: {err}") from None
    return sorted(found, key=lambda p: (p.commit_time, p.name))


def vacuum_retention_hours(configured_hours: float, pins: list[Pin], now: datetime) -> tuple[float, Pin | None]:
    """The retention VACUUM must use: the larger of the configured one and the oldest pin's age.

    Returns (hours, the pin that set it or None). The pin's age is counted from its version's
    commit, plus PIN_MARGIN_HOURS, rounded up to a whole minute.

    >>> t = datetime(2026, 1, 2, tzinfo=timezone.utc)
    >>> old = Pin(name="a", version=1, commit_time=datetime(2026, 1, 1, tzinfo=timezone.utc), pinned_at=t)
    >>> hours, held_by = vacuum_retention_hours(0, [old], t)
    >>> hours, held_by.name
    (25.0, 'a')
    >>> vacuum_retention_hours(168, [old], t), vacuum_retention_hours(0, [], t)
    ((168, None), (0, None))
    """
    if not pins:
        return configured_hours, None
    oldest = min(pins, key=lambda p: p.commit_time)
    age = (now - oldest.commit_time).total_seconds() / 3600 + PIN_MARGIN_HOURS
    age = math.ceil(age * 60) / 60
    return (age, oldest) if age > configured_hours else (configured_hours, None)


def pin_for_run(table_uri: str, version: int, run_dir: str | Path) -> Pin | None:
    """The trainer's pin: named `finetune-<run directory name>`; a table that is not local
    (pins need a local table) is skipped with a warning instead of stopping the training."""
    import logging

    name = "finetune-" + re.sub(r"[^A-Za-z0-9._-]", "_", Path(run_dir).resolve().name)[:110]
    try:
        return pin(table_uri, version, name)
    except PinError as err:
        logging.getLogger(__name__).warning("not pinned: %s", err)
        return None


def main(argv: list[str] | None = None) -> int:
    """`python -m corpusforge.tables.pins list TABLE | pin TABLE VERSION NAME | release TABLE NAME`."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m corpusforge.tables.pins", description="Pins of a Delta table.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list").add_argument("table")
    held = sub.add_parser("pin")
    held.add_argument("table")
    held.add_argument("version", type=int)
    held.add_argument("name")
    gone = sub.add_parser("release")
    gone.add_argument("table")
    gone.add_argument("name")
    args = p.parse_args(argv)
    try:
        if args.command == "pin":
            pin(args.table, args.version, args.name)
        elif args.command == "release" and not release(args.table, args.name):
            print(f"pins: no pin {args.name!r} on {args.table}", file=sys.stderr)
            return 1
        for held_pin in list_pins(args.table):
            print(f"{held_pin.name}\tv{held_pin.version}\tcommitted {held_pin.commit_time:%Y-%m-%d %H:%M} UTC")
    except PinError as err:
        print(f"pins: error: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
