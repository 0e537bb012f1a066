"""The IVR's admin API over HTTP: flows listed with their errors, read, drawn and edited (a broken edit
keeps the running flow and the file), prompts uploaded, listed and deleted; bad input named."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from auth_support import call_center, signed_in

from callcenter.app import CallCenter
from callcenter.settings import IvrSettings
from ivr.fastagi import FastAgiServer
from ivr.prompts import MAX_UPLOAD_BYTES, PromptStore
from ivr.registry import FlowRegistry
from ivr.services import NoServices

MENU = """\
name: menu
dnis: ["8015550100"]
start: hello
nodes:
  hello: {type: play, prompts: [custom/welcome], next: ask}
  ask:
    type: menu
    prompt: beep
    options: {"1": sales, "2": support}
    on_failure: support
  sales: {type: queue, queue: sales}
  support: {type: queue, queue: support}
"""
BROKEN_NEW = "name: fault\nstart: a\nnodes:\n  a: {type: hangup, prompt: nope}\n"


def _tone(seconds: float = 0.2, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * n / rate)))
                               for n in range(int(rate * seconds))))
    return out.getvalue()


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CallCenter]:
    flows, prompts = tmp_path / "flows", tmp_path / "prompts"
    flows.mkdir()
    store = PromptStore(prompts)
    store.convert("welcome", _tone(), "welcome.wav")
    (flows / "menu.yaml").write_text(MENU)
    (flows / "fault.yaml").write_text(BROKEN_NEW)
    async with call_center(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", tmp_path) as center:
        # the IVR of this call center reads the test's folders (nothing is started: no FastAGI socket)
        center.settings = center.settings.model_copy(update={"ivr": IvrSettings(flows_dir=flows, prompts_dir=prompts)})
        center.ivr = FastAgiServer(FlowRegistry(flows, prompt_exists=store.exists), NoServices(), port=0)
        yield center


async def test_the_flows_with_their_errors(center: CallCenter, tmp_path: Path) -> None:
    async with signed_in(center, "sue") as supervisor:
        response = await supervisor.get("/api/ivr/flows")
    assert response.status_code == 200
    fault, menu = response.json()
    assert menu == {"name": "menu", "file": str(tmp_path / "flows" / "menu.yaml"), "dnis": ["8015550100"],
                    "nodes": 4, "default": False, "running": True, "errors": []}
    assert (fault["name"], fault["nodes"], fault["running"]) == ("fault", None, False)
    assert fault["errors"] == [{
        "file": str(tmp_path / "flows" / "fault.yaml"), "line": 4, "column": 29, "node": "a",
        "message": "field 'prompt': prompt 'nope' not found (upload it, or check the name)",
        "text": f"{tmp_path / 'flows' / 'fault.yaml'}:4:29: node 'a': field 'prompt': prompt 'nope' not found "
                "(upload it, or check the name)"}]


async def test_a_flow_as_text_and_as_a_diagram(center: CallCenter) -> None:
    async with signed_in(center, "sue") as supervisor:
        text = await supervisor.get("/api/ivr/flows/menu")
        assert (text.status_code, text.headers["content-type"], text.text) == (200, "application/yaml", MENU)
        broken = await supervisor.get("/api/ivr/flows/fault")  # not in service: its text can still be read
        assert broken.text == BROKEN_NEW
        graph = await supervisor.get("/api/ivr/flows/menu/graph")
        assert graph.status_code == 200 and graph.headers["content-type"].startswith("text/plain")
        assert graph.text.startswith("flowchart TD\n  start((start)) --> n_hello\n")
        assert '  n_ask -- "key 1" --> n_sales\n' in graph.text
        picture = await supervisor.get("/api/ivr/flows/menu/diagram")
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/svg+xml"
        assert picture.headers["content-security-policy"] == "default-src 'none'"
        drawing = ElementTree.fromstring(picture.text)  # well-formed XML: every text escaped
        texts = [t.text for t in drawing.iter("{http://www.w3.org/2000/svg}text")]
        assert "ask" in texts and "sales" in texts and "key 1" in texts
        for path in ("/api/ivr/flows/nope", "/api/ivr/flows/nope/graph", "/api/ivr/flows/fault/graph",
                     "/api/ivr/flows/fault/diagram"):
            missing = await supervisor.get(path)
            assert missing.status_code == 404, path
            assert missing.json()["detail"].startswith("no flow "), path


async def test_an_edit_is_checked_written_and_put_in_service(center: CallCenter, tmp_path: Path) -> None:
    assert center.ivr is not None
    registry = center.ivr.registry
    edited = MENU.replace("queue: sales}", "queue: sales2}")
    async with signed_in(center, "root") as admin:
        await admin.get("/api/ivr/flows")
        before = registry.generation
        response = await admin.put("/api/ivr/flows/menu", content=edited)
        assert response.status_code == 200, response.text
        assert (response.json()["running"], response.json()["errors"]) == (True, [])
        assert (tmp_path / "flows" / "menu.yaml").read_text() == edited
        assert registry.generation == before + 1
        assert registry.flows["menu"].nodes["sales"].queue == "sales2"  # type: ignore[attr-defined]
        assert registry.flow_for("8015550100") is registry.flows["menu"]
        # a new flow gets its own file
        billing = "start: q\nnodes:\n  q: {type: queue, queue: billing}\n"
        created = await admin.put("/api/ivr/flows/billing", content=billing)
        assert (created.status_code, created.json()["name"], created.json()["nodes"]) == (201, "billing", 1)
        assert (tmp_path / "flows" / "billing.yaml").is_file() and "billing" in registry.flows
        # the broken file is fixed by an edit
        fixed = await admin.put("/api/ivr/flows/fault", content=BROKEN_NEW.replace("nope", "beep"))
        assert (fixed.status_code, fixed.json()["running"]) == (200, True)
        assert not list((tmp_path / "flows").glob(".*.part"))  # no temporary file left behind


@pytest.mark.parametrize(("body", "errors"), [
    ("start: hello\nnodes: [", ["menu.yaml:2:9: not valid YAML: expected the node content, but found '<stream end>'"]),
    (MENU.replace("on_failure: support", "on_failure: nowhere"),
     ["menu.yaml:10:17: node 'ask': field 'on_failure' names node 'nowhere', which does not exist"]),
    (MENU.replace("beep", "custom/missing"),
     ["menu.yaml:8:13: node 'ask': field 'prompt': prompt 'custom/missing' not found (upload it, or check the name)"]),
    (MENU.replace("name: menu", "name: other"),
     ["menu.yaml:1:1: field 'name' says 'other', but the edit is of flow 'menu': rename by creating the new flow "
      "and deleting the file of the old"]),
    ("", ["menu.yaml:1:1: the file is empty"]),
])
async def test_a_broken_edit_keeps_the_running_flow_and_the_file(center: CallCenter, tmp_path: Path, body: str,
                                                                  errors: list[str]) -> None:
    assert center.ivr is not None
    async with signed_in(center, "root") as admin:
        await admin.get("/api/ivr/flows")
        served = center.ivr.registry.flows["menu"]
        response = await admin.put("/api/ivr/flows/menu", content=body)
        assert response.status_code == 422
        assert response.json()["detail"] == f"the flow was not saved: {len(errors)} problem(s)"
        assert [e["text"].removeprefix(str(tmp_path / "flows") + "/") for e in response.json()["errors"]] == errors
        assert (tmp_path / "flows" / "menu.yaml").read_text() == MENU
        listed = {f["name"]: f for f in (await admin.get("/api/ivr/flows")).json()}
        assert (listed["menu"]["running"], listed["menu"]["errors"]) == (True, [])
    assert center.ivr.registry.flows["menu"] is served


async def test_an_edit_that_clashes_with_another_flow_is_refused(center: CallCenter) -> None:
    async with signed_in(center, "root") as admin:
        response = await admin.put("/api/ivr/flows/other", content=MENU.replace("name: menu", "name: other"))
        assert response.status_code == 422
        assert [e["message"] for e in response.json()["errors"]] == ["DNIS 8015550100 is already served by flow 'menu'"]


@pytest.mark.parametrize(("name", "body", "status", "detail"), [
    ("../etc", "x", 404, "Not Found"),  # the router never sees a slash in a name
    ("bad name", "x", 422, "'bad name' is no flow name (letters, digits, _ and -, up to 64)"),
    (".hidden", "x", 422, "'.hidden' is no flow name (letters, digits, _ and -, up to 64)"),
    ("menu", b"\xff\xfe", 422, "the flow is not UTF-8 text (invalid start byte at byte 0)"),
    ("menu", "#" * (512 * 1024 + 1), 413, "the flow file is larger than 512 KiB"),
])
async def test_bad_edits_are_named(center: CallCenter, tmp_path: Path, name: str, body: str | bytes, status: int,
                                   detail: str) -> None:
    async with signed_in(center, "root") as admin:
        response = await admin.put(f"/api/ivr/flows/{name}", content=body)
    assert (response.status_code, response.json()["detail"]) == (status, detail)
    assert sorted(p.name for p in (tmp_path / "flows").iterdir()) == ["fault.yaml", "menu.yaml"]


async def test_prompts_uploaded_listed_and_deleted(center: CallCenter, tmp_path: Path) -> None:
    async with signed_in(center, "root") as admin:
        uploaded = await admin.post("/api/ivr/prompts", files={"file": ("Hold-Music.WAV", _tone(0.5), "audio/wav")})
        assert (uploaded.status_code, uploaded.json()) == (
            201, {"name": "custom/hold-music", "seconds": 0.5, "bytes": 8044, "used_by": []})
        named = await admin.post("/api/ivr/prompts", data={"name": "closed"},
                                 files={"file": ("x.wav", _tone(), "audio/wav")})
        assert named.json()["name"] == "custom/closed"
        listed = (await admin.get("/api/ivr/prompts")).json()
        assert [(p["name"], p["used_by"]) for p in listed] == [
            ("custom/closed", []), ("custom/hold-music", []), ("custom/welcome", ["menu/hello"])]

        in_use = await admin.delete("/api/ivr/prompts/custom/welcome")
        assert in_use.status_code == 404  # a slash is no part of a name: the router has no such route
        in_use = await admin.delete("/api/ivr/prompts/welcome")
        assert (in_use.status_code, in_use.json()) == (
            409, {"detail": "prompt 'custom/welcome' is used by menu/hello: change those flows first"})
        assert (tmp_path / "prompts" / "welcome.wav").is_file()
        gone = await admin.delete("/api/ivr/prompts/hold-music")
        assert gone.status_code == 204
        assert not (tmp_path / "prompts" / "hold-music.wav").exists()
        assert not (tmp_path / "prompts" / "hold-music.sln16").exists()
        again = await admin.delete("/api/ivr/prompts/hold-music")
        assert (again.status_code, again.json()) == (404, {"detail": "no uploaded prompt 'custom/hold-music'"})
        bad = await admin.delete("/api/ivr/prompts/Bad..Name")
        assert (bad.status_code, bad.json()) == (422, {"detail": "'Bad..Name' is no prompt name (a-z, 0-9, _ and -, "
                                                                 "up to 64)"})
    async with signed_in(center, "sue") as supervisor:
        assert len((await supervisor.get("/api/ivr/prompts")).json()) == 2


async def test_uploading_the_prompt_a_failing_flow_lacks_puts_it_in_service(center: CallCenter,
                                                                            tmp_path: Path) -> None:
    (tmp_path / "flows" / "fault.yaml").write_text(BROKEN_NEW.replace("nope", "custom/nope"))
    async with signed_in(center, "root") as admin:
        before = {f["name"]: f for f in (await admin.get("/api/ivr/flows")).json()}
        assert before["fault"]["running"] is False
        await admin.post("/api/ivr/prompts", files={"file": ("nope.wav", _tone(), "audio/wav")})
        after = {f["name"]: f for f in (await admin.get("/api/ivr/flows")).json()}  # the file itself unchanged
        assert (after["fault"]["running"], after["fault"]["nodes"]) == (True, 1)


@pytest.mark.parametrize(("files", "data", "status", "detail"), [
    ({"file": ("x.wav", _tone(), "audio/wav")}, {"name": "Not OK"}, 422,
     "'Not OK' is no prompt name (a-z, 0-9, _ and -, up to 64)"),
    ({"file": ("../My Prompt.wav", _tone(), "audio/wav")}, {}, 422,
     "'my prompt' is no prompt name (a-z, 0-9, _ and -, up to 64)"),
    ({"file": ("x.ogg", b"OggS", "audio/ogg")}, {}, 422, "'x.ogg': only .wav and .mp3 files are accepted"),
    ({"file": ("x.wav", b"this is no audio", "audio/wav")}, {}, 422, None),
    ({"other": ("x.wav", _tone(), "audio/wav")}, {}, 422, "the upload has no file part named 'file'"),
    ({"file": ("big.wav", b"\0" * (MAX_UPLOAD_BYTES + 128 * 1024), "audio/wav")}, {}, 413,
     "the file is larger than 20 MiB"),
])
async def test_bad_uploads_say_why(center: CallCenter, tmp_path: Path, files: dict[str, tuple[str, bytes, str]],
                                   data: dict[str, str], status: int, detail: str | None) -> None:
    async with signed_in(center, "root") as admin:
        response = await admin.post("/api/ivr/prompts", files=files, data=data)
    assert response.status_code == status, response.text
    if detail is None:
        assert response.json()["detail"].startswith("'x.wav' cannot be read as WAV: ")
    else:
        assert response.json()["detail"] == detail
    assert sorted(p.name for p in (tmp_path / "prompts").iterdir()) == ["welcome.sln16", "welcome.wav"]


async def test_an_upload_without_a_body_is_refused(center: CallCenter) -> None:
    async with signed_in(center, "root") as admin:
        response = await admin.post("/api/ivr/prompts", content=b"", headers={"content-type": "text/plain"})
    assert (response.status_code, response.json()) == (422, {"detail": "the upload has no file part named 'file'"})


async def test_with_the_ivr_switched_off_the_flows_answer_503(center: CallCenter) -> None:
    center.ivr = None
    async with signed_in(center, "root") as admin:
        response = await admin.get("/api/ivr/flows")
    assert (response.status_code, response.json()) == (503, {"detail": "the IVR is switched off (ivr.enabled: false)"})
