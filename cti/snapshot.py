"""What Asterisk says it has right now: the input of a resync after every (re)connect.

Built from the list actions CoreShowChannels, Status (AllVariables: true) and BridgeList. Their
quirks (contract trace t-resync): CoreShowChannel says `BridgeId`, Status says `BridgeID`; Status
repeats `Variable: NAME=value` headers newest first; items come in no particular order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

AmiItem = Mapping[str, str | list[str]]


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    uniqueid: str
    linkedid: str
    channel: str
    context: str
    exten: str
    state: str
    caller_num: str
    caller_name: str
    bridge_id: str | None
    seconds: float
    dnid: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PbxSnapshot:
    channels: tuple[ChannelSnapshot, ...]
    bridges: Mapping[str, int] = field(default_factory=dict)  # bridge id -> number of channels


def _text(item: AmiItem, key: str) -> str:
    value = item.get(key, "")
    return value[-1] if isinstance(value, list) else value


def _duration(text: str) -> float:
    """`00:01:05` -> 65.0; anything unreadable -> 0."""
    try:
        hours, minutes, seconds = (int(part) for part in text.split(":"))
    except ValueError:
        return 0.0
    return float(hours * 3600 + minutes * 60 + seconds)


def _variables(item: AmiItem) -> dict[str, str]:
    raw = item.get("Variable", [])
    values = [raw] if isinstance(raw, str) else raw
    variables: dict[str, str] = {}
    for entry in values:  # newest first: keep the first value of each name
        name, sep, value = entry.partition("=")
        if sep and name not in variables:
            variables[name] = value
    return variables


def build_snapshot(
    core_show_channels: Iterable[AmiItem],
    status_items: Iterable[AmiItem] = (),
    bridge_items: Iterable[AmiItem] = (),
) -> PbxSnapshot:
    status = {_text(item, "Uniqueid"): item for item in status_items if _text(item, "Uniqueid")}
    channels: list[ChannelSnapshot] = []
    seen: set[str] = set()
    for item in core_show_channels:
        uid = _text(item, "Uniqueid")
        if not uid or uid in seen:
            continue
        seen.add(uid)
        extra = status.get(uid, {})
        channels.append(_channel(item, extra, _duration(_text(item, "Duration")), _text(item, "BridgeId")))
    # A channel created between the two list actions shows up only in Status.
    for uid, item in status.items():
        if uid not in seen:
            seconds = float(_text(item, "Seconds") or 0)
            channels.append(_channel(item, item, seconds, _text(item, "BridgeID")))
    bridges = {
        _text(item, "BridgeUniqueid"): int(_text(item, "BridgeNumChannels") or 0)
        for item in bridge_items
        if _text(item, "BridgeUniqueid")
    }
    return PbxSnapshot(channels=tuple(channels), bridges=bridges)


def _channel(item: AmiItem, status: AmiItem, seconds: float, bridge_id: str) -> ChannelSnapshot:
    return ChannelSnapshot(
        uniqueid=_text(item, "Uniqueid"),
        linkedid=_text(item, "Linkedid") or _text(item, "Uniqueid"),
        channel=_text(item, "Channel"),
        context=_text(item, "Context"),
        exten=_text(item, "Exten"),
        state=_text(item, "ChannelState"),
        caller_num=_text(item, "CallerIDNum"),
        caller_name=_text(item, "CallerIDName"),
        bridge_id=bridge_id or None,
        seconds=seconds,
        dnid=_text(status, "DNID") or None,
        variables=_variables(status),
    )
