"""AMI actions on the simulated PBX: what a logged-in session may ask and what Asterisk 22 answers.

`answer(pbx, action)` gives the packets Asterisk writes back to the asking session (a response, and for
a list action its items and closing event), in Asterisk's shapes (raw-actions.txt,
t-resync.session2.raw.txt). What the action then makes happen arrives afterwards as events on every
session, as on a real Asterisk. Login, Logoff and Events belong to the session (`ami_server.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callcenter.simulator.channels import Channel
from callcenter.simulator.originate import OriginateRequest, check, originate
from callcenter.simulator.pbx import ActionError, Pbx

Packet = dict[str, Any]  # header → value; a list value is a repeated header (Status' Variable)
ASTERISK_VERSION = "22.10.1"


def _response(action_id: str | None, response: str = "Success", **headers: str) -> Packet:
    packet: Packet = {"Response": response}
    if action_id is not None:
        packet["ActionID"] = action_id
    packet.update(headers)
    return packet


def _item(event: str, action_id: str | None, fields: Packet) -> Packet:
    packet: Packet = {"Event": event}
    if action_id is not None:
        packet["ActionID"] = action_id
    packet.update(fields)
    return packet


def _complete(event: str, action_id: str | None, count: int, **more: str) -> Packet:
    return _item(event, action_id, {"EventList": "Complete", "ListItems": str(count), **more})


def _list(action_id: str | None, message: str, items: list[Packet], complete: Packet) -> list[Packet]:
    return [_response(action_id, EventList="start", Message=message), *items, complete]


def _duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _write_format(channel: Channel) -> Packet:
    """A bridged channel passes its peer's audio as it is (native RTP); any other hears Asterisk's own
    audio (music, prompts) translated from signed linear (t-resync)."""
    if channel.bridge is not None:
        return {"Writeformat": "ulaw", "Writetrans": ""}
    return {"Writeformat": "slin", "Writetrans": "(slin@8000)->(ulaw@8000)"}


def _header(action: Packet, name: str) -> str:
    """A header by name, case-insensitively (AMI header names are)."""
    for key, value in action.items():
        if key.lower() == name.lower():
            return value[-1] if isinstance(value, list) else str(value)
    return ""


def _headers(action: Packet, name: str) -> list[str]:
    for key, value in action.items():
        if key.lower() == name.lower():
            return list(value) if isinstance(value, list) else [str(value)]
    return []


class Actions:
    """The action table; one instance per PBX."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.table: dict[str, Callable[[Packet, str | None], list[Packet]]] = {
            "ping": self.ping, "corestatus": self.core_status, "coresettings": self.core_settings,
            "command": self.command, "coreshowchannels": self.core_show_channels, "status": self.status,
            "bridgelist": self.bridge_list, "bridgeinfo": self.bridge_info, "getvar": self.getvar,
            "setvar": self.setvar, "redirect": self.redirect, "originate": self.originate, "bridge": self.bridge,
            "hangup": self.hangup, "mixmonitor": self.mix_monitor, "stopmixmonitor": self.stop_mix_monitor,
            "atxfer": self.atxfer, "cancelatxfer": self.cancel_atxfer,
        }

    def answer(self, action: Packet) -> list[Packet]:
        name = _header(action, "Action")
        action_id = _header(action, "ActionID") or None
        handler = self.table.get(name.lower())
        if handler is None:
            return [_response(action_id, "Error", Message=f"Invalid/unknown command: {name}. Use Action: "
                              "ListCommands to show available commands.")]
        try:
            return handler(action, action_id)
        except ActionError as error:
            return [_response(action_id, "Error", Message=str(error))]

    # ---- simple ones -----------------------------------------------------------------------------------
    def ping(self, action: Packet, action_id: str | None) -> list[Packet]:
        return [_response(action_id, Ping="Pong", Timestamp=f"{self.pbx.clock.now():.6f}")]

    def core_status(self, action: Packet, action_id: str | None) -> list[Packet]:
        return [_response(action_id, CoreStartupDate="", CoreStartupTime="", CoreReloadDate="",
                          CoreReloadTime="", CoreCurrentCalls=str(len(self.pbx.channels)))]

    def core_settings(self, action: Packet, action_id: str | None) -> list[Packet]:
        return [_response(action_id, AMIversion="11.0.0", AsteriskVersion=ASTERISK_VERSION, SystemName="")]

    def command(self, action: Packet, action_id: str | None) -> list[Packet]:
        text = _header(action, "Command").strip()
        if text == "core show version":
            output = f"Asterisk {ASTERISK_VERSION} (simulated PBX of the call center)"
        else:
            output = f"No such command '{text}' (type 'core show help {text}' for other possible commands)"
        return [_response(action_id, Message="Command output follows", Output=output)]

    # ---- lists (resync) --------------------------------------------------------------------------------
    def _channels(self) -> list[Channel]:
        # Asterisk lists channels in its container's hash order, not by creation (t-resync); newest first
        # is as good a stand-in as any, and shows a client that it must not rely on the order.
        return list(reversed(self.pbx.channels.values()))

    def core_show_channels(self, action: Packet, action_id: str | None) -> list[Packet]:
        now = self.pbx.clock.now()
        items = [_item("CoreShowChannel", action_id, {
            **c.block(), "Application": c.application, "ApplicationData": c.application_data,
            "Duration": _duration(now - c.created_at), "BridgeId": c.bridge.uniqueid if c.bridge else "",
        }) for c in self._channels()]
        return _list(action_id, "Channels will follow", items,
                     _complete("CoreShowChannelsComplete", action_id, len(items)))

    def status(self, action: Packet, action_id: str | None) -> list[Packet]:
        wanted = _header(action, "Channel")
        every_variable = _header(action, "AllVariables").lower() in ("true", "yes", "1")
        channels = self._channels()
        if wanted:
            found = self.pbx.find_channel(wanted)
            if found is None:
                raise ActionError("No such channel")
            channels = [found]
        now = self.pbx.clock.now()
        items = []
        for c in channels:
            item: Packet = {"Event": "Status", "Privilege": "Call", **c.block(), "Type": "PJSIP", "DNID": c.dnid,
                            "EffectiveConnectedLineNum": c.connected_num,
                            "EffectiveConnectedLineName": c.connected_name, "TimeToHangup": "0",
                            "BridgeID": c.bridge.uniqueid if c.bridge else "", "Application": c.application,
                            "Data": c.application_data, "Nativeformats": "(ulaw)", "Readformat": "ulaw",
                            "Readtrans": "", **_write_format(c),
                            "Callgroup": "0", "Pickupgroup": "0", "Seconds": str(int(now - c.created_at))}
            if every_variable and c.variables:
                item["Variable"] = [f"{k}={v}" for k, v in reversed(c.variables.items())]  # newest first
            if action_id is not None:
                item["ActionID"] = action_id  # last in a Status item, unlike every other list
            items.append(item)
        complete = _complete("StatusComplete", action_id, len(items), Items=str(len(items)))
        return _list(action_id, "Channel status will follow", items, complete)

    def bridge_list(self, action: Packet, action_id: str | None) -> list[Packet]:
        items = [_item("BridgeListItem", action_id, b.block()) for b in self.pbx.bridges.values()]
        return _list(action_id, "Bridge listing will follow", items,
                     _complete("BridgeListComplete", action_id, len(items)))

    def bridge_info(self, action: Packet, action_id: str | None) -> list[Packet]:
        wanted = _header(action, "BridgeUniqueid")
        if not wanted:
            raise ActionError("Bridge identifier not provided")
        bridge = self.pbx.bridges.get(wanted)
        if bridge is None:
            raise ActionError(f"Bridge {wanted} not found")
        items = [_item("BridgeInfoChannel", action_id, c.block()) for c in bridge.channels]
        return _list(action_id, "Bridge channel listing will follow", items,
                     _complete("BridgeInfoComplete", action_id, len(items), **bridge.block()))

    def getvar(self, action: Packet, action_id: str | None) -> list[Packet]:
        name = _header(action, "Variable")
        if not name:
            raise ActionError("No variable specified")
        value = self.pbx.getvar(_header(action, "Channel") or None, name)
        return [_response(action_id, Variable=name, Value=value)]

    def setvar(self, action: Packet, action_id: str | None) -> list[Packet]:
        name = _header(action, "Variable")
        if not name:
            raise ActionError("No variable specified")
        self.pbx.setvar(_header(action, "Channel") or None, name, _header(action, "Value"))
        return [_response(action_id, Message="Variable Set")]

    # ---- call control ----------------------------------------------------------------------------------
    def redirect(self, action: Packet, action_id: str | None) -> list[Packet]:
        channel = _header(action, "Channel")
        if not channel:
            raise ActionError("Channel not specified")
        context, exten = _header(action, "Context"), _header(action, "Exten")
        if self.pbx.dialplan.find(context, exten) is None:
            raise ActionError("Extension does not exist.")
        self.pbx.redirect(channel, context, exten, _header(action, "Priority") or "1")
        return [_response(action_id, Message="Redirect successful")]

    def bridge(self, action: Packet, action_id: str | None) -> list[Packet]:
        self.pbx.bridge(_header(action, "Channel1"), _header(action, "Channel2"))
        return [_response(action_id, Message="Channels have been bridged")]

    def hangup(self, action: Packet, action_id: str | None) -> list[Packet]:
        channel = _header(action, "Channel")
        if not channel:
            raise ActionError("No channel specified")
        cause = _header(action, "Cause")
        self.pbx.hangup(channel, int(cause) if cause.isdigit() else None)
        return [_response(action_id, Message="Channel Hungup")]

    def atxfer(self, action: Packet, action_id: str | None) -> list[Packet]:
        """e-atxfer: `Atxfer successfully queued`; the transfer's events follow (transfer.py)."""
        self.pbx.atxfer(_header(action, "Channel"), _header(action, "Exten"), _header(action, "Context"))
        return [_response(action_id, Message="Atxfer successfully queued")]

    def cancel_atxfer(self, action: Packet, action_id: str | None) -> list[Packet]:
        """Asterisk's manager.c (no trace shows this action): it queues the atxferabort code and says so."""
        self.pbx.cancel_atxfer(_header(action, "Channel"))
        return [_response(action_id, Message="CancelAtxfer successfully queued")]

    def mix_monitor(self, action: Packet, action_id: str | None) -> list[Packet]:
        """f-mixmonitor: the response has no Message; the events follow."""
        self.pbx.mix_monitor(_header(action, "Channel"), _header(action, "File"), _header(action, "Options"))
        return [_response(action_id)]

    def stop_mix_monitor(self, action: Packet, action_id: str | None) -> list[Packet]:
        self.pbx.stop_mix_monitor(_header(action, "Channel"))
        return [_response(action_id)]

    def originate(self, action: Packet, action_id: str | None) -> list[Packet]:
        timeout = _header(action, "Timeout")
        variables = [v for header in _headers(action, "Variable") for v in header.split(",") if v]
        request = OriginateRequest(
            channel=_header(action, "Channel"), context=_header(action, "Context"), exten=_header(action, "Exten"),
            priority=_header(action, "Priority") or "1", application=_header(action, "Application"),
            data=_header(action, "Data"), timeout_ms=int(timeout) if timeout.isdigit() else 30_000,
            callerid=_header(action, "CallerID"), variables=variables, channel_id=_header(action, "ChannelId"),
            action_id=action_id,
        )
        check(self.pbx, request)
        self.pbx.clock.call_later(0, lambda: originate(self.pbx, request))
        return [_response(action_id, Message="Originate successfully queued")]
