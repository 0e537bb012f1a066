"""Channels and bridges of the simulated PBX, and the header blocks Asterisk prints for them.

Every channel event of Asterisk 22 carries the same block (Channel ... Linkedid, in this order); dial
events add the dialled channel's block with a `Dest` prefix; bridge events start with the bridge's
block. The shapes are those of the recorded traces (../shared/asterisk-traces).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Event = dict[str, str]

STATE_DOWN, STATE_RING, STATE_RINGING, STATE_UP = 0, 4, 5, 6
STATE_DESC = {STATE_DOWN: "Down", STATE_RING: "Ring", STATE_RINGING: "Ringing", STATE_UP: "Up"}
UNKNOWN = "<unknown>"

# Q.850 causes with the text Asterisk's Hangup event gives them.
CAUSE_TEXT = {
    0: "Unknown", 1: "Unallocated (unassigned) number", 16: "Normal Clearing", 17: "User busy",
    18: "No user responding", 19: "User alerting, no answer", 21: "Call Rejected",
    34: "Circuit/channel congestion", 38: "Network out of order",
}


@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    endpoint: str
    context: str
    exten: str
    priority: int = 1
    state: int = STATE_DOWN
    cid_num: str = UNKNOWN
    cid_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    language: str = "en"
    accountcode: str = ""
    created_at: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)
    bridge: Bridge | None = None
    has_pbx: bool = False  # a dialplan thread runs on it (Asterisk's "PBX")
    dnid: str = ""  # the dialled number on a trunk leg (Status' DNID)
    hangupcause: int = 0  # ${HANGUPCAUSE}: Dial copies the dialled leg's cause here
    answered_at: float | None = None
    application: str = ""  # what CoreShowChannels / Status call Application and Data
    application_data: str = ""
    running: Any = None  # the blocking application now running (an apps.Running), or None
    dialled_by: Any = None  # for an outgoing leg: the Dial or Originate that created it
    gone: bool = False

    def block(self, prefix: str = "") -> Event:
        return {
            f"{prefix}Channel": self.name,
            f"{prefix}ChannelState": str(self.state),
            f"{prefix}ChannelStateDesc": STATE_DESC[self.state],
            f"{prefix}CallerIDNum": self.cid_num,
            f"{prefix}CallerIDName": self.cid_name,
            f"{prefix}ConnectedLineNum": self.connected_num,
            f"{prefix}ConnectedLineName": self.connected_name,
            f"{prefix}Language": self.language,
            f"{prefix}AccountCode": self.accountcode,
            f"{prefix}Context": self.context,
            f"{prefix}Exten": self.exten,
            f"{prefix}Priority": str(self.priority),
            f"{prefix}Uniqueid": self.uniqueid,
            f"{prefix}Linkedid": self.linkedid,
        }

    @property
    def is_local(self) -> bool:
        """A half of a Local channel pair (`Local/<exten>@<context>-<n>;1` or `;2`)."""
        return self.name.startswith("Local/")

    def set_variable(self, name: str, value: str) -> None:
        self.variables.pop(name, None)  # Status lists variables newest first: keep them in set order
        self.variables[name] = value

    @property
    def callerid_all(self) -> str:
        if self.cid_name in ("", UNKNOWN):
            return f"<{self.cid_num}>" if self.cid_num not in ("", UNKNOWN) else ""
        return f'"{self.cid_name}" <{self.cid_num}>'


@dataclass
class Bridge:
    uniqueid: str
    technology: str = "simple_bridge"
    channels: list[Channel] = field(default_factory=list)

    def block(self, prefix: str = "") -> Event:
        """The bridge's headers; with a prefix (`Orig`, `To` ...) as BridgeMerge and AttendedTransfer show them."""
        return {f"{prefix}{key}": value for key, value in self._block().items()}

    def _block(self) -> Event:
        return {
            "BridgeUniqueid": self.uniqueid,
            "BridgeType": "basic",
            "BridgeTechnology": self.technology,
            "BridgeCreator": UNKNOWN,
            "BridgeName": UNKNOWN,
            "BridgeNumChannels": str(len(self.channels)),
            "BridgeVideoSourceMode": "none",
        }
