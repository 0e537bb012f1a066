"""Recorded AMI traces: JSONL as in tests/traces (`_t` seconds, `_dir` in/out/meta, headers verbatim),
or a plain JSON array of event objects without `_t`, taken as 10 ms apart."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PLAIN_ARRAY_STEP = 0.010
TracePacket = dict[str, str | list[str]]


class TraceError(ValueError):
    """A trace file that cannot be read: names the file and the line."""


@dataclass(frozen=True, slots=True)
class TraceEntry:
    t: float
    direction: str  # "in" (from Asterisk), "out" (an action we sent), "meta" (annotation)
    packet: TracePacket

    @property
    def is_event(self) -> bool:
        # OriginateResponse is an event that also has a Response header: Event decides.
        return self.direction == "in" and "Event" in self.packet


def _packet(obj: Mapping[str, Any]) -> TracePacket:
    packet: TracePacket = {}
    for key, value in obj.items():
        if key.startswith("_"):
            continue
        packet[key] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return packet


def read_trace(path: Path) -> Iterator[TraceEntry]:
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise TraceError(f"{path}: item {index}: expected an object, got {type(item).__name__}")
            yield TraceEntry(t=index * PLAIN_ARRAY_STEP, direction="in", packet=_packet(item))
        return
    previous = 0.0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}: line {number}: not valid JSON: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise TraceError(f"{path}: line {number}: expected an object")
        raw_t = obj.get("_t", previous + PLAIN_ARRAY_STEP)
        if not isinstance(raw_t, int | float):
            raise TraceError(f"{path}: line {number}: _t must be a number, got {raw_t!r}")
        previous = float(raw_t)
        yield TraceEntry(t=previous, direction=str(obj.get("_dir", "in")), packet=_packet(obj))
