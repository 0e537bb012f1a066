"""The ACD over HTTP: agents change their own state, supervisors anyone's; refused changes say why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from auth_support import call_center, signed_in

from callcenter.app import CallCenter


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CallCenter]:
    async with call_center(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", tmp_path) as center:
        yield center


async def test_an_agent_logs_in_pauses_and_gets_ready(center: CallCenter) -> None:
    async with signed_in(center, "ada") as http:  # ada is agent1001
        listed = (await http.get("/api/agents")).json()
        assert [a["agent_id"] for a in listed] == ["agent1001"]
        assert listed[0]["state"] == "logged_out"
        assert (await http.post("/api/agents/agent1001/login")).json()["state"] == "available"
        paused = await http.post("/api/agents/agent1001/pause", json={"reason": "lunch"})
        assert paused.json()["state"] == "not_ready"
        assert (await http.post("/api/agents/agent1001/ready")).json()["state"] == "available"
        assert (await http.post("/api/agents/agent1001/logout")).json()["state"] == "logged_out"


async def test_an_agent_cannot_change_another_agent(center: CallCenter) -> None:
    async with signed_in(center, "ada") as http:
        response = await http.post("/api/agents/agent1002/login")
        assert (response.status_code, response.json()["detail"]) == (
            403, "an agent changes only their own state (agent1001)")
    assert center.routing.agent_states()["agent1002"].value == "logged_out"


async def test_a_supervisor_changes_any_agent_and_sees_the_queues(center: CallCenter) -> None:
    async with signed_in(center, "sue") as http:
        assert (await http.post("/api/agents/agent1002/login")).status_code == 200
        agents = {a["agent_id"]: a["state"] for a in (await http.get("/api/agents")).json()}
        assert agents["agent1002"] == "available" and agents["agent1001"] == "logged_out"
        queues = {q["name"]: q for q in (await http.get("/api/queues")).json()}
        assert set(queues) == {"support", "sales", "billing", "repair"}
        assert queues["support"]["free_agents"] == ["agent1002"] and queues["support"]["waiting"] == []


async def test_refused_changes_say_why(center: CallCenter) -> None:
    async with signed_in(center, "sue") as http:
        paused = await http.post("/api/agents/agent1003/pause", json={"reason": "lunch"})
        assert paused.status_code == 409 and "agent1003" in paused.json()["detail"]
        await http.post("/api/agents/agent1003/login")
        unknown_reason = await http.post("/api/agents/agent1003/pause", json={"reason": "nap"})
        assert unknown_reason.status_code == 409 and "nap" in unknown_reason.json()["detail"]
        missing = await http.post("/api/agents/agent9999/login")
        assert (missing.status_code, missing.json()["detail"]) == (
            404, "no agent 'agent9999' in the ACD configuration")
        bad = await http.post("/api/agents/agent1003/wrap-up/extend", json={"seconds": -5})
        assert bad.status_code == 422
        not_wrapping = await http.post("/api/agents/agent1003/wrap-up/end")
        assert not_wrapping.status_code == 409


async def test_a_supervisor_changes_skills_and_queues_live(center: CallCenter) -> None:
    async with signed_in(center, "sue") as http:
        await http.post("/api/agents/agent1002/login")
        changed = await http.patch("/api/agents/agent1002", json={"skills": {"sales": 70}, "queues": ["sales"]})
        assert changed.status_code == 200
        assert (changed.json()["skills"], changed.json()["queues"]) == ({"sales": 70}, ["sales"])
        queues = {q["name"]: q for q in (await http.get("/api/queues")).json()}
        assert queues["sales"]["free_agents"] == ["agent1002"] and queues["support"]["free_agents"] == []
        bad_level = await http.patch("/api/agents/agent1002", json={"skills": {"sales": 300}})
        assert bad_level.status_code == 422 and "300" in bad_level.json()["detail"]
        bad_queue = await http.patch("/api/agents/agent1002", json={"queues": ["nowhere"]})
        assert bad_queue.status_code == 409 and "nowhere" in bad_queue.json()["detail"]
    async with signed_in(center, "ada") as http:
        assert (await http.patch("/api/agents/agent1001", json={"queues": ["sales"]})).status_code == 403


async def test_an_agent_chooses_which_of_their_queues_to_serve(center: CallCenter) -> None:
    async with signed_in(center, "ada") as http:  # agent1001: support and billing (config/acd.yaml)
        assert (await http.post("/api/agents/agent1001/login")).json()["serving"] == ["support", "billing"]
        chosen = await http.put("/api/agents/agent1001/queues", json={"queues": ["billing"]})
        assert chosen.status_code == 200
        assert (chosen.json()["queues"], chosen.json()["serving"]) == (["support", "billing"], ["billing"])
        assert center.routing.router.free_agents("support") == []  # live: no longer offered support callers
        assert center.routing.router.free_agents("billing") == ["agent1001"]
        foreign = await http.put("/api/agents/agent1001/queues", json={"queues": ["sales"]})
        assert foreign.status_code == 409 and "not assigned" in foreign.json()["detail"]
        assert (await http.put("/api/agents/agent1001/queues", json={"queues": []})).status_code == 422
        assert (await http.put("/api/agents/agent1002/queues", json={"queues": ["sales"]})).status_code == 403
        await http.post("/api/agents/agent1001/logout")
        assert (await http.post("/api/agents/agent1001/login")).json()["serving"] == ["billing"]  # kept
    async with signed_in(center, "sue") as http:  # a supervisor's new assignment keeps the choice within it
        changed = await http.patch("/api/agents/agent1001", json={"queues": ["support"]})
        assert (changed.json()["queues"], changed.json()["serving"]) == (["support"], ["support"])
        assert center.routing.router.free_agents("support") == ["agent1001"]
