"""HTTP API: health, status and calls, and the feature routers (sign-in, users, customers). Formatting
for people lives here, never in the telephony layer.

Only the probes (`/api/health`, `/api/ready`), the sign-in itself and the login page are open; every
other route needs a signed-in user (`Guard`), and some a role. An agent sees only their own calls.
"""

from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from callcenter.auth.errors import Forbidden
from callcenter.auth.http import Guard, auth_routes, user_routes
from callcenter.auth.page import CONTENT_SECURITY_POLICY, render_login_page
from callcenter.auth.service import Role, SignedIn
from callcenter.customers.http import customer_routes
from callcenter.errors import ServiceError
from callcenter.ivr.http import ivr_routes
from callcenter.routing.http import routing_routes
from callcenter.web.pages import static_files

if TYPE_CHECKING:
    from callcenter.app import CallCenter


def create_app(center: "CallCenter") -> FastAPI:
    app = FastAPI(title="Call center", version="0.1.0")
    guard = Guard(center.auth)
    SignedInUser = Annotated[SignedIn, Depends(guard.user)]

    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    app.include_router(auth_routes(center.auth, guard))
    app.include_router(user_routes(center.auth, guard))
    app.include_router(customer_routes(center.customers, guard))
    app.include_router(routing_routes(center.routing, guard, center.sessions))
    app.include_router(ivr_routes(center.ivr, center.settings, guard))
    for router in center.desktop.routers(guard):
        app.include_router(router)
    app.mount("/static", static_files(center.settings.desktop.sip_wss_url), name="static")

    @app.get("/login", include_in_schema=False)
    async def login_page() -> HTMLResponse:
        return HTMLResponse(render_login_page(center.simulator is not None),
                            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.get("/api/ready")
    async def ready() -> JSONResponse:
        """Readiness: logged in to Asterisk and resynced."""
        is_ready = center.connection.ready and center.pipeline.stats.resyncs > 0
        return JSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)

    @app.get("/api/status", dependencies=[Depends(guard.user)])
    async def status() -> dict[str, Any]:
        return {
            "pbx": {
                "simulated": center.simulator is not None,
                "host": center.connection.host,
                "port": center.connection.port,
                "connected": center.connection.connected,
                "ready": center.connection.ready,
                "connection": _plain(center.connection.stats),
            },
            "tracker": {
                "events": center.pipeline.stats.events,
                "domain_events": center.pipeline.stats.domain_events,
                "resyncs": center.pipeline.stats.resyncs,
                "resync_failures": center.pipeline.stats.resync_failures,
                "ignored_events": center.tracker.ignored_events,
                "live_calls": len(center.tracker.live_calls()),
                "recent_connection_losses": list(center.pipeline.stats.connection_losses),
            },
            "acd": {
                **_plain(center.routing.stats),
                "agents": {a: s.value for a, s in center.routing.agent_states().items()},
            },
            "bus": [asdict(s) for s in center.bus.stats],
        }

    @app.get("/api/calls/live")
    async def live_calls(signed_in: SignedInUser) -> list[dict[str, Any]]:
        """Calls in progress; an agent sees the calls they are talking in."""
        calls = center.tracker.live_calls()
        if signed_in.user.role == Role.AGENT:
            calls = [call for call in calls if signed_in.user.endpoint in call.agents]
        return [call.to_json() for call in calls]

    @app.get("/api/calls")
    async def calls(
        signed_in: SignedInUser,
        start: Annotated[datetime, Query(description="ISO 8601, inclusive")],
        end: Annotated[datetime, Query(description="ISO 8601, exclusive")],
        agent: str | None = None,
        queue: str | None = None,
    ) -> list[dict[str, Any]]:
        start, end = _aware(start), _aware(end)
        if end <= start:
            raise HTTPException(422, "end must be after start")
        if (end - start).days > 400:
            raise HTTPException(422, "at most 400 days per request")
        agent = _own_agent(signed_in, agent)
        rows = await center.call_history(start, end, agent=agent, queue=queue)
        return [_plain(row) for row in rows]

    return app


def _own_agent(signed_in: SignedIn, agent: str | None) -> str | None:
    """Supervisors and admins read any agent's calls; an agent only their own (`calls.agent` holds the
    endpoint that talked to the caller)."""
    user = signed_in.user
    if user.role != Role.AGENT:
        return agent
    if user.endpoint is None:
        raise Forbidden("your user has no agent endpoint: ask an admin to set it")
    if agent is not None and agent != user.endpoint:
        raise Forbidden(f"an agent reads only their own calls ({user.endpoint})")
    return user.endpoint


def _aware(value: datetime) -> datetime:
    """Timestamps without a zone are taken as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
