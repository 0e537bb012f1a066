"""HTTP API: health, status and calls. Formatting for people lives here, never in the telephony layer.

Sign-in and roles arrive with the agent desktop; until then the server listens on loopback by default
and these endpoints expose no customer data beyond calling numbers.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from callcenter.app import CallCenter


def create_app(center: CallCenter) -> FastAPI:
    app = FastAPI(title="Call center", version="0.1.0")

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.get("/api/ready")
    async def ready() -> JSONResponse:
        """Readiness: logged in to Asterisk and resynced."""
        is_ready = center.connection.ready and center.pipeline.stats.resyncs > 0
        return JSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)

    @app.get("/api/status")
    async def status() -> dict[str, Any]:
        return {
            "pbx": {
                "host": center.settings.ami.host,
                "port": center.settings.ami.port,
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
            "bus": [asdict(s) for s in center.bus.stats],
        }

    @app.get("/api/calls/live")
    async def live_calls() -> list[dict[str, Any]]:
        return [call.to_json() for call in center.tracker.live_calls()]

    @app.get("/api/calls")
    async def calls(
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
        rows = await center.call_history(start, end, agent=agent, queue=queue)
        return [_plain(row) for row in rows]

    return app


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
