"""The pages: `/agent`, `/supervisor` and `/admin/ivr` (the IVR flows), and their static files under `/static`.

The pages are shells: they hold no data, and every datum comes over the signed-in API and `/ws`, so they
are served to anyone (a page that finds nobody signed in goes to `/login?next=...`). A strict Content
Security Policy goes with every page and file: scripts and styles only from this server, no inline code,
connections only to this server (and the softphone's Asterisk when one is set).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"


def content_security_policy(extra_connect: str = "") -> str:
    connect = "'self'" + (f" {extra_connect}" if extra_connect else "")
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; media-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'")


class _StrictStatic(StaticFiles):
    """Static files with the pages' policy (a file opened on its own gets no more rights than a page)."""

    def __init__(self, directory: Path, policy: str) -> None:
        super().__init__(directory=directory)
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", self.policy.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        await super().__call__(scope, receive, with_headers)


def static_files(sip_wss_url: str = "") -> StaticFiles:
    return _StrictStatic(STATIC, content_security_policy(sip_wss_url))


def page_routes(sip_wss_url: str = "") -> APIRouter:
    router = APIRouter(include_in_schema=False)
    headers = {"Content-Security-Policy": content_security_policy(sip_wss_url), "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store"}

    @router.get("/agent")
    async def agent_page() -> FileResponse:
        return FileResponse(STATIC / "agent.html", headers=headers)

    @router.get("/supervisor")
    async def supervisor_page() -> FileResponse:
        return FileResponse(STATIC / "supervisor.html", headers=headers)

    @router.get("/admin/ivr")
    async def ivr_page() -> FileResponse:
        return FileResponse(STATIC / "ivr.html", headers=headers)

    return router
