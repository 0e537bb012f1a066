"""Shared helpers for the trace tests: which traces exist and how domain events are written down."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Any

from cti.events import CallEnded, DomainEvent

TRACES = Path(__file__).parent / "traces"
EXPECTED = Path(__file__).parent / "expected"


def main_traces() -> list[Path]:
    """Every main-session trace (not the simulator's or a second session's)."""
    return sorted(
        path
        for path in TRACES.glob("*/*.jsonl")
        if not path.name.endswith((".sim.jsonl", ".session2.jsonl"))
    )


def trace_id(path: Path) -> str:
    return path.name.removesuffix(".jsonl")


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def describe(event: DomainEvent) -> dict[str, Any]:
    """A domain event as a plain dict: its type name plus its fields (records reduced to their call id)."""
    fields: dict[str, Any] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(event, CallEnded) and f.name == "record":
            continue
        fields[f.name] = _plain(value)
    return fields
