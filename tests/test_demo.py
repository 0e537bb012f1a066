"""`callcenter demo`: the whole call center with the simulated PBX, bots and traffic, sped up.

Everything runs as in production (AMI over TCP to the simulator running the shipped dialplan,
tracker, ACD, history in SQLite), only faster: after a few minutes of PBX time, bot callers have been
answered by bot agents, each finished call is stored once, and the status says the PBX is simulated.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from waiting import until as _until

from callcenter.app import CallCenter
from callcenter.db.cdr import calls_between
from callcenter.demo import DEMO_USERS, banner, demo_settings, ensure_demo_customers, ensure_demo_users
from callcenter.migrations import migrate
from callcenter.settings import Settings

SPEED = 60.0



def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CALLCENTER__DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    base = Settings.model_validate({
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"},
        "records": {"queue_log_path": str(tmp_path / "queue_log")},
        "http": {"port": _free_port()},
        "ivr": {"port": _free_port()},  # the demo's own IVR server (the simulated dialplan's AGI goes there)
    })
    return demo_settings(base, speed=SPEED)


async def test_the_demo_routes_bot_callers_to_bot_agents_and_keeps_the_history(settings: Settings) -> None:
    assert settings.pbx.mode == "simulated" and settings.simulator.speed == SPEED
    await migrate(settings.database.url)
    center = CallCenter(settings)
    await ensure_demo_users(center.auth)
    await ensure_demo_users(center.auth)  # a second start finds them there
    assert sorted(u.login for u in await center.auth.users()) == sorted(u.login for u in DEMO_USERS)
    task = asyncio.get_running_loop().create_task(center.run())
    try:
        # 10 minutes of PBX time, with about 3 callers a minute
        await _until(lambda: center.cdr.stored >= 12, within=60)
    finally:
        center.stop()
        await asyncio.wait_for(task, 30)
    assert center.simulator is not None and center.simulator.people is not None
    people = center.simulator.people.stats
    assert people.calls_offered >= 12 and people.answers >= 8
    assert center.routing.stats.offers >= 8 and center.routing.stats.actions_failed == 0
    center2 = CallCenter(settings)
    try:
        stored = await calls_between(center2.sessions, datetime.now(UTC) - timedelta(days=2),
                                     datetime.now(UTC) + timedelta(days=2))
    finally:
        await center2.engine.dispose()
    assert len(stored) == len({c.call_id for c in stored}) >= 12
    answered = [c for c in stored if c.outcome == "answered"]
    assert answered and all(c.agent is not None and c.agent.startswith("agent10") for c in answered)
    # the IVR (config/ivr) queues the bots by the keys they press; the ACD serves each queue's agents
    queues = {c.queue for c in answered}
    assert queues and queues <= {"sales", "support", "billing", "repair"}, queues
    members = {a: set(cfg.queues) for a, cfg in center.routing.config.agents.items()}
    assert all(c.queue in members[c.agent] for c in answered if c.agent in members), [
        (c.agent, c.queue) for c in answered]


def test_the_banner_says_it_is_simulated_and_how_to_sign_in(settings: Settings) -> None:
    text = banner(settings)
    assert "SIMULATED PBX" in text
    for user in DEMO_USERS:
        assert user.login in text and user.password in text


async def test_bot_agents_take_breaks_through_the_acd(settings: Settings, tmp_path: Path) -> None:
    """With breaks every minute or two of PBX time, bots go not ready (reason break) and come back."""
    scenario = settings.simulator.scenario.read_text(encoding="utf-8")
    assert "break_every: [900, 2700]" in scenario
    (tmp_path / "simulator.yaml").write_text(scenario.replace("break_every: [900, 2700]", "break_every: [60, 120]"),
                                             encoding="utf-8")
    simulator = settings.simulator.model_copy(update={"scenario": tmp_path / "simulator.yaml"})
    fast_breaks = settings.model_copy(update={"simulator": simulator})
    await migrate(fast_breaks.database.url)
    center = CallCenter(fast_breaks)
    task = asyncio.get_running_loop().create_task(center.run())
    on_break: set[str] = set()

    def three_on_break() -> bool:
        on_break.update(a for a, s in center.routing.agent_states().items() if s.value == "not_ready")
        return len(on_break) >= 3

    try:
        await _until(three_on_break, within=60)
    finally:
        center.stop()
        await asyncio.wait_for(task, 30)
    assert center.simulator is not None and center.simulator.people is not None
    assert center.simulator.people.stats.breaks >= 3


async def test_demo_customers_are_made_once(settings: Settings) -> None:
    await migrate(settings.database.url)
    center = CallCenter(settings)
    try:
        assert await ensure_demo_customers(center.customers) == 20
        assert await ensure_demo_customers(center.customers) == 0  # a second start leaves them
        found = await center.customers.find_by_phone("5551001")
        assert found is not None and found.reference == "10001" and found.vip
        summary = await center.customers.customer_summary(found.id)
        assert [t.title for t in summary.open_tickets] == ["Line drops in the evening"]
    finally:
        await center.engine.dispose()


def test_the_login_page_says_when_the_pbx_is_simulated() -> None:
    from callcenter.auth.page import CONTENT_SECURITY_POLICY, render_login_page

    assert "SIMULATED PBX" in render_login_page(True) and "SIMULATED PBX" not in render_login_page(False)
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY  # the banner is markup: the hashes still hold
