"""The agent page's phone when the PBX is simulated: the person's clicks act on the simulator's phone.

On a real Asterisk these are functions of the agent's own softphone (answer, hang up, hold by re-INVITE,
DTMF in the media); in the demo the simulator's `ManualPhone` stands for that softphone, and these are the
same acts done to it. Only in-process (`CallCenter.simulator`), only on the agent's own endpoint.
"""

from __future__ import annotations

import re

from callcenter.errors import Conflict, Invalid, NotFound
from callcenter.simulator.channels import STATE_UP, Channel
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import ManualPhone
from callcenter.simulator.service import Simulator

DTMF = re.compile(r"[0-9*#A-D]{1,32}")


class SimulatedPhones:
    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def _pbx(self) -> Pbx:
        if self.simulator.pbx is None:
            raise Conflict("the simulated PBX is not running")
        return self.simulator.pbx

    def _phone(self, pbx: Pbx, endpoint: str) -> ManualPhone:
        known = pbx.endpoints.get(endpoint)
        if known is None or not isinstance(known.phone, ManualPhone):
            raise NotFound(f"{endpoint} has no phone answered from the page (simulator.yaml agents.people)")
        return known.phone

    def _channels(self, pbx: Pbx, endpoint: str) -> list[Channel]:
        return [c for c in pbx.channels.values() if c.endpoint == endpoint and not c.gone]

    def _talking(self, pbx: Pbx, endpoint: str) -> Channel:
        up = [c for c in self._channels(pbx, endpoint) if c.state == STATE_UP]
        if not up:
            raise Conflict(f"{endpoint} is not on a call")
        return up[-1]

    def answer(self, endpoint: str) -> None:
        pbx = self._pbx()
        if not self._phone(pbx, endpoint).answer(pbx):
            raise Conflict(f"{endpoint}'s phone is not ringing")

    def hang_up(self, endpoint: str) -> None:
        """Hang up the call, or refuse the ringing one (SIP 486 / BYE: the far end goes)."""
        pbx = self._pbx()
        phone = self._phone(pbx, endpoint)
        ringing = phone.ringing_channel
        channel = ringing if ringing is not None and not ringing.gone else None
        if channel is None:
            channel = self._talking(pbx, endpoint)
        pbx.remote_hangup(channel)

    def hold(self, endpoint: str) -> None:
        pbx = self._pbx()
        self._phone(pbx, endpoint)
        pbx.hold(self._talking(pbx, endpoint))

    def resume(self, endpoint: str) -> None:
        pbx = self._pbx()
        self._phone(pbx, endpoint)
        pbx.unhold(self._talking(pbx, endpoint))

    def dtmf(self, endpoint: str, digits: str) -> None:
        if not DTMF.fullmatch(digits):
            raise Invalid("digits: 1 to 32 of 0-9 * # A-D")
        pbx = self._pbx()
        self._phone(pbx, endpoint)
        channel = self._talking(pbx, endpoint)
        for digit in digits:
            pbx.dtmf_begin(channel, digit)
            pbx.dtmf_end(channel, digit)
