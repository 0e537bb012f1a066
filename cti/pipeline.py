"""The live CTI path: AMI connection -> tracker -> publish, with a resync after every (re)connect.

The tracker is pure; this is where it meets the clock (epoch seconds) and the network. AMI events are
applied synchronously in wire order, so the tracker's state never lags the connection. Raw AMI packets
stop here: what leaves is domain events, handed to `publish` (the event bus, in the server).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cti.events import DomainEvent
from cti.snapshot import build_snapshot
from cti.tracker import AmiEvent, Tracker

if TYPE_CHECKING:
    from cti.connection import AmiConnection

log = logging.getLogger(__name__)

# The list actions of a resync (trace t-resync shows their exact replies).
RESYNC_ACTIONS = (
    {"Action": "CoreShowChannels"},
    {"Action": "Status", "AllVariables": "true"},
    {"Action": "BridgeList"},
)


@dataclass(slots=True)
class PipelineStats:
    events: int = 0
    domain_events: int = 0
    resyncs: int = 0
    resync_failures: int = 0
    last_resync_at: float | None = None
    connection_losses: list[str] = field(default_factory=list)


class CtiPipeline:
    def __init__(
        self,
        tracker: Tracker,
        publish: Callable[[list[DomainEvent]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tracker = tracker
        self.publish = publish
        self.clock = clock
        self.stats = PipelineStats()

    def on_event(self, packet: AmiEvent) -> None:
        """Called by the connection for every live AMI event, in wire order."""
        self.stats.events += 1
        events = self.tracker.feed(packet, self.clock())
        if events:
            self.stats.domain_events += len(events)
            self.publish(events)

    async def on_ready(self, connection: AmiConnection) -> None:
        """After login and FullyBooted: make the tracker's state equal Asterisk's."""
        taken_since = self.clock()
        try:
            lists = [await connection.send_list(action) for action in RESYNC_ACTIONS]
        except Exception as exc:  # the connection retries; a failed resync must not kill it
            self.stats.resync_failures += 1
            log.warning("resync failed: %s", exc)
            return
        snapshot = build_snapshot(lists[0].items, lists[1].items, lists[2].items)
        events = self.tracker.resync(snapshot, self.clock(), taken_since=taken_since)
        self.stats.resyncs += 1
        self.stats.last_resync_at = self.clock()
        self.stats.domain_events += len(events)
        self.publish(events)
        log.info("resync: %d channels, %d live calls", len(snapshot.channels), len(self.tracker.calls))

    def on_down(self, reason: str) -> None:
        self.stats.connection_losses.append(reason)
        del self.stats.connection_losses[:-20]
        log.warning("AMI connection lost: %s", reason)
