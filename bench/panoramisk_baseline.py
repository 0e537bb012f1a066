"""panoramisk's own AMI parser, driven without a network: the baseline the benchmarks compare against.

`AMIProtocol.data_received` is what panoramisk's Manager runs for every read; here it gets the same
chunks our connection gets, with a do-nothing transport and a factory that only counts dispatches.
"""

from __future__ import annotations

import time
from typing import Any


def panoramisk_parse(data: bytes, chunk: int, budget: float = float("inf")) -> tuple[float, int, bool]:
    """Seconds spent, events dispatched, and whether all of `data` was parsed within `budget` s."""
    from panoramisk.ami_protocol import AMIProtocol

    class Factory:
        save_stream = None
        dispatched = 0

        def dispatch(self, message: Any) -> None:
            self.dispatched += 1

        def connection_lost(self, exc: Any) -> None:
            pass  # a Shutdown event in the data: panoramisk closes, and we keep feeding

    class Transport:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

    factory = Factory()
    protocol = AMIProtocol()
    protocol.connection_made(Transport())
    protocol.factory = factory
    protocol.encoding = "utf8"
    protocol.version = "11.0.0"  # skip its banner check: the data has none
    begin = time.perf_counter()
    for offset in range(0, len(data), chunk):
        protocol.data_received(data[offset:offset + chunk])
        if time.perf_counter() - begin > budget:
            return time.perf_counter() - begin, factory.dispatched, False
    return time.perf_counter() - begin, factory.dispatched, True
