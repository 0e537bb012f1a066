"""The AMI connection: connect, log in, wait for FullyBooted, serve, detect a dead link, reconnect.

The only module of cti/ that does network I/O. It owns its parser (cti/protocol.py) and lifecycle
rather than using panoramisk's Manager, whose parser is quadratic on large responses and whose
keep-alive never notices a half-open connection (docs: ARCHITECTURE.md, "Known traps").

Asterisk behaviour this relies on (real traces, Asterisk 22):

* banner line first; then the Login response; when Asterisk is up, a per-login `FullyBooted` event
  right after it (`Uptime, LastReload, Status`).
* After a restart, Login can succeed *before* boot has finished: no FullyBooted at login, the broadcast
  one arrives later (v-restart: 17 ms later, header order `Status, Uptime, LastReload`). So "ready" =
  logged in AND FullyBooted seen on this connection; a bounded wait marks it ready anyway.
* `Event: Shutdown` precedes the EOF of a restart (v-restart): the link goes down at once.
* A wrong secret gives `Response: Error` / `Message: Authentication failed` (raw-actions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from cti.connection_link import (
    AmiBackpressure,
    AmiDisconnected,
    AmiError,
    AmiLink,
    AmiListResult,
    ConnectionStats,
)
from cti.protocol import DEFAULT_MAX_MESSAGE_SIZE, AmiPacket, EventFilter

__all__ = [
    "AmiBackpressure",
    "AmiConnection",
    "AmiDisconnected",
    "AmiError",
    "AmiListResult",
    "ConnectionStats",
]

log = logging.getLogger(__name__)

Action = Mapping[str, str | Sequence[str]]


class AmiConnection:
    """A self-healing AMI client. `run()` until `close()`; `send()`/`send_list()` while logged in."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        on_event: Callable[[AmiPacket], None],
        on_ready: Callable[[AmiConnection], Awaitable[None]] | None = None,
        on_down: Callable[[str], None] | None = None,
        keepalive_interval: float = 1.0,
        keepalive_timeout: float = 2.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 10.0,
        connect_timeout: float = 3.0,
        action_timeout: float = 10.0,
        boot_timeout: float = 5.0,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        write_buffer_limit: int = 1024 * 1024,
        rng: random.Random | None = None,
        event_filter: EventFilter | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self._on_event = on_event
        self.event_filter = event_filter  # events it declines never reach on_event
        self._on_ready = on_ready
        self._on_down = on_down
        self.keepalive_interval = keepalive_interval
        self.keepalive_timeout = keepalive_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.boot_timeout = boot_timeout
        self.max_message_size = max_message_size
        self.write_buffer_limit = write_buffer_limit
        self._rng = rng or random.Random()
        self._id_prefix = f"cc-{secrets.token_hex(3)}"
        self._stats = ConnectionStats()
        self._link: AmiLink | None = None
        self._logged_in = False
        self._ready = False
        self._closing = False
        self._running = False
        self._wake = asyncio.Event()  # ends a backoff pause early (close())
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._link_count = 0

    # ---- public state ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Logged in on an open link (actions can be sent)."""
        return self._logged_in and self._link is not None and self._link.is_open

    @property
    def ready(self) -> bool:
        """Logged in and FullyBooted seen (or waited for in vain): the owner's resync may run."""
        return self._ready and self.connected

    @property
    def banner(self) -> str | None:
        return self._link.parser.banner if self._link is not None else None

    @property
    def stats(self) -> ConnectionStats:
        return self._stats

    # ---- actions ---------------------------------------------------------------------------------

    async def send(self, action: Action) -> AmiPacket:
        """Send one action and return its Response (an ActionID is added if absent).

        Raises AmiError on `Response: Error`, AmiDisconnected if the link is or goes down,
        TimeoutError after action_timeout (AmiBackpressure, a TimeoutError, if Asterisk stopped
        reading what we write and the action could not even be sent).
        """
        link = self._logged_in_link(action)
        deadline = asyncio.get_running_loop().time() + self.action_timeout
        await link.wait_writable(action, self.action_timeout)
        action_id, entry = link.submit(action)
        assert entry.future is not None
        try:
            return await asyncio.wait_for(entry.future, self._remaining(deadline))
        finally:
            link.forget(action_id)

    async def send_list(self, action: Action) -> AmiListResult:
        """Send a list action (CoreShowChannels, Status, BridgeList ...) and collect its items.

        Items are routed here by ActionID and never reach on_event; live events keep flowing to
        on_event meanwhile. action_timeout bounds the whole list.
        """
        link = self._logged_in_link(action)
        deadline = asyncio.get_running_loop().time() + self.action_timeout
        await link.wait_writable(action, self.action_timeout)
        action_id, entry = link.submit(action, is_list=True)
        assert entry.list_future is not None
        try:
            return await asyncio.wait_for(entry.list_future, self._remaining(deadline))
        finally:
            link.forget(action_id)

    @staticmethod
    def _remaining(deadline: float) -> float:
        return max(deadline - asyncio.get_running_loop().time(), 0.0)

    def _logged_in_link(self, action: Action) -> AmiLink:
        link = self._link
        if link is None or not self._logged_in or not link.is_open:
            raise AmiDisconnected(f"{action.get('Action')}: AMI is not connected")
        return link

    # ---- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, log in, serve, and reconnect with exponential backoff and jitter until close()."""
        if self._running:
            raise RuntimeError("AmiConnection.run() is already running")
        self._running = True
        self._stopped.clear()
        failures = 0
        try:
            while not self._closing:
                ready_for = await self._session()
                if self._closing:
                    break
                # The backoff starts over only after a session that stayed up a while: an Asterisk
                # that accepts the login and then drops at once is not hammered either.
                failures = 0 if ready_for >= self.backoff_max else failures + 1
                delay = self._backoff(failures)
                log.info("AMI %s:%s: reconnecting in %.2f s", self.host, self.port, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            await self._cancel_tasks()
            self._running = False
            self._stopped.set()

    async def close(self) -> None:
        """Log off (best effort), close the link, stop run() and every task it owns."""
        if self._closing:
            if self._running and asyncio.current_task() not in self._tasks:
                await self._stopped.wait()
            return
        self._closing = True  # from here on a lost link is not reported to on_down
        self._wake.set()
        link = self._link
        if link is not None and self.connected:
            try:  # Asterisk answers `Response: Goodbye` and closes its side
                await asyncio.wait_for(self.send({"Action": "Logoff"}), min(1.0, self.action_timeout))
            except (AmiError, ConnectionError, TimeoutError) as exc:
                log.debug("Logoff: %s", exc)
        if link is not None:
            link.abort("closed by the application")
        if self._running and asyncio.current_task() not in self._tasks:
            await self._stopped.wait()

    def _backoff(self, failures: int) -> float:
        """Exponential backoff from backoff_initial to backoff_max, with jitter in [d/2, d]."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0 ** min(max(failures - 1, 0), 30))
        return ceiling / 2 + self._rng.random() * ceiling / 2

    async def _session(self) -> float:
        """One TCP connection from connect to loss: how long it was ready (-1: never)."""
        loop = asyncio.get_running_loop()
        self._link_count += 1
        try:
            _, link = await asyncio.wait_for(
                loop.create_connection(self._make_link, self.host, self.port), self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            self._fail(f"cannot connect to AMI {self.host}:{self.port}: {exc!r}")
            return -1.0
        self._stats.connects += 1
        self._link = link
        if self._closing:  # close() ran while we were connecting
            link.abort("closed by the application")
        try:
            if not await self._login(link):
                return -1.0
            self._spawn(self._keepalive(link), "ami-keepalive")
            await self._wait_booted(link)
            if not link.is_open:
                return -1.0
            self._ready = True
            ready_at = loop.time()
            log.info("AMI %s:%s ready (%s)", self.host, self.port, link.parser.banner)
            if self._on_ready is not None:
                self._spawn(self._run_on_ready(), "ami-on-ready")
            reason = await link.closed
            if not self._closing:
                self._stats.last_error = reason
                log.warning("AMI %s:%s down: %s", self.host, self.port, reason)
            return loop.time() - ready_at
        finally:
            was_logged_in = self._logged_in
            self._logged_in = self._ready = False
            link.abort("session ended")
            await link.closed
            self._link = None
            await self._cancel_tasks()
            if was_logged_in and not self._closing:
                self._call_on_down(link.closed.result())

    def _make_link(self) -> AmiLink:
        return AmiLink(
            on_event=self._on_event,
            stats=self._stats,
            id_prefix=f"{self._id_prefix}-{self._link_count}",
            max_message_size=self.max_message_size,
            write_buffer_limit=self.write_buffer_limit,
            event_filter=self.event_filter,
        )

    async def _login(self, link: AmiLink) -> bool:
        if not await self._until(link, link.banner, self.connect_timeout):
            self._fail(f"AMI {self.host}:{self.port}: no banner within {self.connect_timeout} s")
            return False
        if link.banner.done() and link.banner.result() is None and link.is_open:
            log.warning("AMI %s:%s sent no 'Asterisk Call Manager' banner", self.host, self.port)
        try:
            action_id, entry = link.submit(
                {"Action": "Login", "Username": self.username, "Secret": self._secret, "Events": "on"})
        except (ConnectionError, TimeoutError) as exc:
            self._fail(f"Login not sent: {exc}")
            return False
        assert entry.future is not None
        try:
            await asyncio.wait_for(entry.future, self.action_timeout)
        except AmiError as exc:
            self._stats.auth_failures += 1
            self._fail(f"AMI login as {self.username!r} on {self.host}:{self.port} refused: {exc} "
                       "(check the username and secret in manager.conf)", level=logging.ERROR)
            return False
        except (ConnectionError, TimeoutError) as exc:
            self._fail(f"AMI login on {self.host}:{self.port} failed: {exc!r}")
            return False
        finally:
            link.forget(action_id)
        self._stats.logins += 1
        if self._stats.logins > 1:
            self._stats.reconnects += 1
        self._logged_in = True
        return True

    async def _wait_booted(self, link: AmiLink) -> None:
        if await self._until(link, link.booted, self.boot_timeout) or not link.is_open:
            return
        log.warning("AMI %s:%s: no FullyBooted within %.1f s of login; treating Asterisk as ready",
                    self.host, self.port, self.boot_timeout)

    @staticmethod
    async def _until(link: AmiLink, future: asyncio.Future[Any], seconds: float) -> bool:
        """Wait for `future`, the link's loss or the timeout; True if `future` completed."""
        await asyncio.wait((future, link.closed), timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        return future.done()

    async def _keepalive(self, link: AmiLink) -> None:
        """Ping after keepalive_interval without a byte from Asterisk; if still no byte
        keepalive_timeout after the Ping, the peer is gone (half-open TCP): abort the link."""
        loop = asyncio.get_running_loop()
        ping_id: str | None = None
        while link.is_open:
            idle = loop.time() - link.last_rx
            if idle < self.keepalive_interval:
                await asyncio.sleep(self.keepalive_interval - idle)
                continue
            link.rx.clear()
            if ping_id is not None:
                link.forget(ping_id)  # an unanswered earlier Ping: its late Pong is just dropped
            try:
                ping_id, _ = link.submit({"Action": "Ping"}, wait=False)
            except AmiBackpressure:
                ping_id = None  # Asterisk is not reading; any byte from it still proves it alive
            try:
                await asyncio.wait_for(link.rx.wait(), self.keepalive_timeout)
            except TimeoutError:
                self._stats.keepalive_timeouts += 1
                link.abort(f"no data from Asterisk for {loop.time() - link.last_rx:.1f} s "
                           "(keep-alive Ping unanswered: half-open connection?)")
                return

    async def _run_on_ready(self) -> None:
        assert self._on_ready is not None
        try:
            await self._on_ready(self)
        except Exception:
            self._stats.callback_errors += 1
            log.exception("AMI on_ready failed")

    def _call_on_down(self, reason: str) -> None:
        if self._on_down is None:
            return
        try:
            self._on_down(reason)
        except Exception:
            self._stats.callback_errors += 1
            log.exception("AMI on_down failed")

    def _fail(self, message: str, level: int = logging.WARNING) -> None:
        self._stats.last_error = message
        log.log(level, message)

    # ---- owned tasks -----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("AMI task %s failed", task.get_name(), exc_info=task.exception())

    async def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

