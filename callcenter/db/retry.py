"""Writes that a database briefly away (restart, failover) must not cost: tried again with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between tries


async def with_retries(write: Callable[[], Awaitable[None]], retry_delays: Sequence[float], what: str) -> int:
    """Runs `write` until it succeeds, waiting `retry_delays` between tries, and returns how many tries
    failed; after the last delay, the failure is raised for the caller to log what was not stored."""
    failed = 0
    while True:
        try:
            await write()
            return failed
        except Exception as exc:  # any database failure: try again
            if failed == len(retry_delays):
                raise
            log.warning("storing %s failed (%s); retrying in %.1f s", what, exc, retry_delays[failed])
            await asyncio.sleep(retry_delays[failed])
            failed += 1
