"""HTTP side of the IVR: the flows (list with their errors, YAML text, Mermaid diagram, edit) and the
prompts (list, upload, delete). Admins change; supervisors read.

An edit is checked like the reload checks a file (the flow alone, then against the other flows in
service: names, DNIS, sub-flows, prompts) and written only if it passes, atomically (a temporary file
renamed over the old one), then taken into service at once. A failing edit answers 422 with every
problem (file, line, column, node) and leaves the file and the running flow as they were.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from callcenter.auth.http import Guard
from callcenter.auth.service import Role
from callcenter.errors import Conflict, Invalid, NotFound, ServiceError
from callcenter.ivr.cli import prompt_store
from callcenter.settings import Settings
from ivr.diagram import svg
from ivr.fastagi import FastAgiServer
from ivr.graph import mermaid
from ivr.loader import FlowInvalid, Problem, parse_flow
from ivr.model import Flow
from ivr.prompts import MAX_UPLOAD_BYTES, NAME_RE, PREFIX, PromptError, PromptInfo, PromptStore, prompts_used
from ivr.registry import FlowFile, check_set

FLOW_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")  # a flow name that is also a safe file name
MAX_FLOW_BYTES = 512 * 1024
MULTIPART_SLACK = 64 * 1024  # the multipart envelope around an upload


class TooLarge(ServiceError):
    status = 413


class IvrOff(ServiceError):
    status = 503


class LengthRequired(ServiceError):
    status = 411


_UPLOAD_SCHEMA: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "WAV or MP3"},
                   "name": {"type": "string", "description": "prompt name (default: the file's name)"}}}}}}}


@dataclass(frozen=True, slots=True)
class FlowError:
    file: str
    line: int
    column: int
    node: str | None
    message: str
    text: str  # file:line:column: node 'x': message, as the log and `callcenter ivr check` say it


@dataclass(frozen=True, slots=True)
class FlowSummary:
    name: str
    file: str
    dnis: list[str]
    nodes: int | None       # None: the file never passed its check, nothing of it is in service
    default: bool
    running: bool           # the file's present text is the version answering calls
    errors: list[FlowError]  # what is wrong with the file's present text (its last edit)


@dataclass(frozen=True, slots=True)
class PromptOut:
    name: str        # as a flow names it: custom/<name>
    seconds: float
    bytes: int
    used_by: list[str]  # flow/node


def _error(problem: Problem) -> FlowError:
    return FlowError(problem.source, problem.line, problem.column, problem.node, problem.message, str(problem))


def _summary(file: FlowFile) -> FlowSummary:
    flow = file.flow
    return FlowSummary(name=flow.name if flow else file.path.stem, file=str(file.path),
                       dnis=list(flow.dnis) if flow else [], nodes=len(flow.nodes) if flow else None,
                       default=flow.default if flow else False, running=file.running,
                       errors=[_error(p) for p in file.problems])


def _problems(problems: list[Problem], status: int = 422) -> JSONResponse:
    return JSONResponse({"detail": f"the flow was not saved: {len(problems)} problem(s)",
                         "errors": [_plain(_error(p)) for p in problems]}, status_code=status)


def _plain(error: FlowError) -> dict[str, Any]:
    return {"file": error.file, "line": error.line, "column": error.column, "node": error.node,
            "message": error.message, "text": error.text}


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)  # readers (the reload) see the old file or the new one, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ivr_routes(server: FastAgiServer | None, settings: Settings, guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/api/ivr", tags=["ivr"],
                       dependencies=[Depends(guard.role(Role.SUPERVISOR, Role.ADMIN))])
    admin = [Depends(guard.role(Role.ADMIN))]
    store = prompt_store(settings)

    async def running() -> FastAgiServer:
        if server is None:
            raise IvrOff("the IVR is switched off (ivr.enabled: false)")
        await server.reload_flows()  # files changed by hand since the last timer tick
        return server

    def flow_named(agi: FastAgiServer, name: str) -> Flow:
        flow = agi.registry.flow(name)
        if flow is None:
            raise NotFound(f"no flow {name!r} in service (GET /api/ivr/flows lists them)")
        return flow

    @router.get("/flows")
    async def flows() -> list[FlowSummary]:
        """Every flow file: name, file, DNIS, node count, whether its present text is in service, and the
        errors of its last edit (file:line:column, node)."""
        agi = await running()
        return [_summary(f) for f in await asyncio.to_thread(agi.registry.files)]

    @router.get("/flows/{name}/graph", response_class=PlainTextResponse)
    async def graph(name: str) -> str:
        """The flow in service as a Mermaid flowchart."""
        return mermaid(flow_named(await running(), name))

    @router.get("/flows/{name}/diagram", response_class=Response,
                responses={200: {"content": {"image/svg+xml": {}}, "description": "an SVG picture"}})
    async def diagram(name: str) -> Response:
        """The flow in service drawn as SVG (the admin page shows it as an image)."""
        picture = svg(flow_named(await running(), name))
        return Response(picture, media_type="image/svg+xml",
                        headers={"Content-Security-Policy": "default-src 'none'", "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-store"})

    @router.get("/flows/{name}")
    async def flow_text(name: str) -> Response:
        """The flow file's present YAML text (which may be a failing edit: see `errors` in the list)."""
        agi = await running()
        path = agi.registry.file_of(name)
        if path is None:
            raise NotFound(f"no flow {name!r} (GET /api/ivr/flows lists them)")
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"the file of flow {name!r} is gone ({path})") from None
        return Response(text, media_type="application/yaml")

    @router.put("/flows/{name}", dependencies=admin)
    async def save_flow(name: str, request: Request) -> Response:
        """Replace (or create) the flow `name` with the YAML body. Checked first; written atomically and
        put in service only if valid, else 422 with every problem (the running flow is kept)."""
        agi = await running()
        if not FLOW_NAME.fullmatch(name):
            raise Invalid(f"{name!r} is no flow name (letters, digits, _ and -, up to 64)")
        body = await _read_limited(request, MAX_FLOW_BYTES, "flow file")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"the flow is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        existing = agi.registry.file_of(name)
        path = existing or agi.registry.folder / f"{name}.yaml"
        problems = await asyncio.to_thread(_check, agi, name, path, text, store)
        if problems:
            return _problems(problems)
        await asyncio.to_thread(_write_atomically, path, text)
        await agi.reload_flows()
        [saved] = [f for f in await asyncio.to_thread(agi.registry.files) if f.path == path]
        if saved.problems:  # changed under us by another edit of the folder
            return _problems(list(saved.problems), 409)
        return JSONResponse(_summary_json(saved), status_code=200 if existing else 201)

    @router.get("/prompts")
    async def prompts() -> list[PromptOut]:
        """The uploaded prompts (named custom/<name> in flows) and the flows that use each."""
        users = await _prompt_users(server)
        return [PromptOut(p.name, p.seconds, p.bytes, users.get(p.name, []))
                for p in await asyncio.to_thread(store.list)]

    @router.post("/prompts", status_code=201, dependencies=admin, openapi_extra=_UPLOAD_SCHEMA)
    async def upload_prompt(request: Request) -> PromptOut:
        """Upload a WAV or MP3 file (multipart: `file`, optional `name`, default the file's name); converted
        off the event loop to 8 kHz mono WAV and sln16. A prompt of the same name is replaced. The size is
        checked before the body is read (Content-Length), and again on the file itself."""
        limit = f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB"
        declared = request.headers.get("content-length")
        if declared is None or not declared.isdigit():
            raise LengthRequired("an upload needs a Content-Length header")
        if int(declared) > MAX_UPLOAD_BYTES + MULTIPART_SLACK:
            raise TooLarge(limit)
        try:
            async with request.form(max_files=1, max_fields=2) as form:
                upload = form.get("file")
                if not isinstance(upload, StarletteUpload):
                    raise Invalid("the upload has no file part named 'file'")
                name = form.get("name")
                filename = upload.filename or ""
                prompt = name if isinstance(name, str) and name else Path(filename).stem.lower()
                if not NAME_RE.fullmatch(prompt):
                    raise Invalid(f"{prompt!r} is no prompt name (a-z, 0-9, _ and -, up to 64)")
                data = await upload.read(MAX_UPLOAD_BYTES + 1)
        except HTTPException as exc:  # starlette's refusal of a malformed multipart body
            raise Invalid(f"not a multipart upload: {exc.detail}") from None
        if len(data) > MAX_UPLOAD_BYTES:
            raise TooLarge(limit)
        try:
            info: PromptInfo = await asyncio.to_thread(store.convert, prompt, data, filename)
        except PromptError as exc:
            raise Invalid(str(exc)) from None
        if server is not None:
            await server.reload_flows(recheck=True)  # a flow that lacked this prompt may pass now
        return PromptOut(info.name, info.seconds, info.bytes, (await _prompt_users(server)).get(info.name, []))

    @router.delete("/prompts/{name}", status_code=204, dependencies=admin)
    async def delete_prompt(name: str) -> None:
        """Delete an uploaded prompt (`welcome` or `custom/welcome`); 409 while a flow in service uses it."""
        stem = name[len(PREFIX):] if name.startswith(PREFIX) else name
        if not NAME_RE.fullmatch(stem):
            raise Invalid(f"{name!r} is no prompt name (a-z, 0-9, _ and -, up to 64)")
        users = (await _prompt_users(server)).get(PREFIX + stem)
        if users:
            raise Conflict(f"prompt {PREFIX + stem!r} is used by {', '.join(users)}: change those flows first")
        if not await asyncio.to_thread(store.delete, stem):
            raise NotFound(f"no uploaded prompt {PREFIX + stem!r}")

    return router


def _summary_json(file: FlowFile) -> dict[str, Any]:
    summary = _summary(file)
    return {"name": summary.name, "file": summary.file, "dnis": summary.dnis, "nodes": summary.nodes,
            "default": summary.default, "running": summary.running, "errors": [_plain(e) for e in summary.errors]}


def _check(agi: FastAgiServer, name: str, path: Path, text: str, store: PromptStore) -> list[Problem]:
    """The edit's problems, as the reload would find them (blocking: YAML parsing)."""
    source = str(path)
    try:
        flow = parse_flow(text, source, default_name=name, prompt_exists=store.exists)
    except FlowInvalid as exc:
        return exc.problems
    if flow.name != name:
        return [Problem(source, 1, 1, None, f"field 'name' says {flow.name!r}, but the edit is of flow {name!r}: "
                                            "rename by creating the new flow and deleting the file of the old")]
    others = {f.name: f for f in agi.registry.flows.values() if f.source != source and f.name != name}
    others[name] = flow
    return [p for p in check_set(others) if p.source == source]


async def _prompt_users(server: FastAgiServer | None) -> dict[str, list[str]]:
    """prompt → the flows in service (flow/node) that play it, as of the files on disk now."""
    users: dict[str, list[str]] = {}
    if server is None:
        return users
    await server.reload_flows()
    for flow in server.registry.flows.values():
        for node, prompt in prompts_used(flow):
            where = f"{flow.name}/{node}"
            if where not in users.setdefault(prompt, []):
                users[prompt].append(where)
    return users


async def _read_limited(request: Request, limit: int, what: str) -> bytes:
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit:
        raise TooLarge(f"the {what} is larger than {limit // 1024} KiB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the {what} is larger than {limit // 1024} KiB")
    return bytes(body)
