"""HTTP routes of the agent desktop: call control, after-call work, the simulated phone, the page's settings.

Agents act on the calls they are on (and record results of calls they handled); supervisors and admins on
any call. The simulated phone routes exist for agents only, on their own endpoint, when the PBX is the
built-in simulator (404 otherwise).
"""

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from callcenter.auth.errors import Forbidden
from callcenter.auth.http import Guard
from callcenter.auth.service import Role, SignedIn
from callcenter.desktop.aftercall import AfterCall, DispositionIn, DispositionOut
from callcenter.desktop.control import CallControl
from callcenter.desktop.simphone import SimulatedPhones
from callcenter.errors import NotFound
from callcenter.settings import DesktopSettings


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=3, max_length=80, description='"agent:agent1002", "queue:sales", "number:5551234"')
    kind: Literal["blind", "attended"] = "blind"


class DtmfIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digits: str = Field(min_length=1, max_length=32)


@dataclass(frozen=True, slots=True)
class SipOut:
    wss_url: str
    domain: str
    user: str


@dataclass(frozen=True, slots=True)
class DesktopConfigOut:
    simulated: bool
    dispositions: list[str]
    pause_reasons: list[str]
    sip: SipOut | None  # the WebRTC softphone's Asterisk; None when not configured or simulated


@dataclass(frozen=True, slots=True)
class Done:
    ok: bool = True


def desktop_routes(control: CallControl, after_call: AfterCall, phones: SimulatedPhones | None,
                   settings: DesktopSettings, guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["desktop"])
    SignedInUser = Annotated[SignedIn, Depends(guard.user)]
    AgentUser = Annotated[SignedIn, Depends(guard.role(Role.AGENT))]

    @router.get("/desktop/config")
    async def desktop_config(signed_in: SignedInUser) -> DesktopConfigOut:
        """What the desktop page needs besides the websocket: dispositions, pause reasons, the softphone."""
        sip = None
        endpoint = signed_in.user.endpoint
        if phones is None and settings.sip_wss_url and endpoint:
            domain = settings.sip_domain or (urlsplit(settings.sip_wss_url).hostname or "")
            sip = SipOut(settings.sip_wss_url, domain, endpoint)
        return DesktopConfigOut(phones is not None, settings.dispositions,
                                sorted(control.routing.config.settings.pause_reasons), sip)

    @router.post("/calls/{call_id}/hangup")
    async def hang_up(call_id: str, signed_in: SignedInUser) -> Done:
        """Hang up the agent's leg (AMI Hangup); the caller hears the survey or goodbye."""
        await control.hang_up(signed_in, call_id)
        return Done()

    @router.post("/calls/{call_id}/hold")
    async def hold(call_id: str, signed_in: SignedInUser) -> Done:
        """Simulated PBX only: on a real Asterisk the softphone holds (501)."""
        await control.hold(signed_in, call_id, on=True)
        return Done()

    @router.post("/calls/{call_id}/resume")
    async def resume(call_id: str, signed_in: SignedInUser) -> Done:
        await control.hold(signed_in, call_id, on=False)
        return Done()

    @router.post("/calls/{call_id}/transfer")
    async def transfer(call_id: str, body: TransferIn, signed_in: SignedInUser) -> dict[str, str]:
        """Blind transfer of the caller to an agent, a queue or a number (AMI Redirect); attended (`kind`
        "attended", to an agent or a number): a consultation starts (AMI Atxfer), to complete or cancel."""
        return await control.transfer(signed_in, call_id, body.to, body.kind)

    @router.post("/calls/{call_id}/transfer/complete")
    async def complete_transfer(call_id: str, signed_in: SignedInUser) -> Done:
        """The consulting agent leaves (AMI Hangup of their leg): the caller and the one consulted talk."""
        await control.complete_transfer(signed_in, call_id)
        return Done()

    @router.post("/calls/{call_id}/transfer/cancel")
    async def cancel_transfer(call_id: str, signed_in: SignedInUser) -> Done:
        """End the consultation (AMI CancelAtxfer): the agent has the caller back."""
        await control.cancel_transfer(signed_in, call_id)
        return Done()

    @router.post("/calls/{call_id}/disposition")
    async def disposition(call_id: str, body: DispositionIn, signed_in: SignedInUser) -> DispositionOut:
        """The result of a call (one of desktop.dispositions) and notes, stored for its customer, with a
        ticket created (`ticket.title`) or updated (`ticket.id`)."""
        return await after_call.dispose(signed_in, call_id, body)

    def own_phone(signed_in: SignedIn, endpoint: str) -> SimulatedPhones:
        if signed_in.user.endpoint != endpoint:
            raise Forbidden(f"an agent uses only their own phone ({signed_in.user.endpoint})")
        if phones is None:
            raise NotFound("the PBX is not simulated: use your softphone")
        return phones

    @router.post("/sim/phone/{endpoint}/answer")
    async def sim_answer(endpoint: str, signed_in: AgentUser) -> Done:
        own_phone(signed_in, endpoint).answer(endpoint)
        return Done()

    @router.post("/sim/phone/{endpoint}/hangup")
    async def sim_hang_up(endpoint: str, signed_in: AgentUser) -> Done:
        own_phone(signed_in, endpoint).hang_up(endpoint)
        return Done()

    @router.post("/sim/phone/{endpoint}/hold")
    async def sim_hold(endpoint: str, signed_in: AgentUser) -> Done:
        own_phone(signed_in, endpoint).hold(endpoint)
        return Done()

    @router.post("/sim/phone/{endpoint}/resume")
    async def sim_resume(endpoint: str, signed_in: AgentUser) -> Done:
        own_phone(signed_in, endpoint).resume(endpoint)
        return Done()

    @router.post("/sim/phone/{endpoint}/dtmf")
    async def sim_dtmf(endpoint: str, body: DtmfIn, signed_in: AgentUser) -> Done:
        own_phone(signed_in, endpoint).dtmf(endpoint, body.digits)
        return Done()

    return router
