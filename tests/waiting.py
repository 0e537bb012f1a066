"""Waiting in tests without sleeping on hope: poll a condition, bounded (HOUSE_STYLE rule 7)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], within: float = 8.0, *, every: float = 0.005) -> None:
    """Return as soon as `condition()` holds; fail the test if it does not within `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(every)
