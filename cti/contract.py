"""Names shared by our dialplan, the PBX simulator and the tracker: defined once, here.

The Asterisk contract (ARCHITECTURE.md): the inbound context answers and runs the IVR, the caller
waits in the waiting context, the ACD moves it with Redirect to the connect context (which Dials the
agent) or originates an agent leg into the agent context and bridges it. Channel variables carry
the call's state so that a restarted server can read it back from Asterisk.
"""

from __future__ import annotations

INBOUND_CONTEXT = "cc-inbound"
WAIT_CONTEXT = "cc-wait"
CONNECT_CONTEXT = "cc-connect"
AGENT_CONTEXT = "cc-agent"

VAR_CALL = "CC_CALL"      # on an originated agent leg: the caller's Uniqueid
VAR_QUEUE = "CC_QUEUE"    # queue chosen by the IVR (or the default)
VAR_STATE = "CC_STATE"    # waiting / connecting / postcall
VAR_DNIS = "CC_DNIS"
VAR_AGENT = "CC_AGENT"    # agent endpoint being connected
VAR_RING_TIMEOUT = "CC_RING_TIMEOUT"  # seconds an agent's phone rings before ring-no-answer (set by the ACD)

STATE_WAITING = "waiting"
STATE_CONNECTING = "connecting"
STATE_POSTCALL = "postcall"

USEREVENT_WAITING = "CCWaiting"    # headers: Queue
USEREVENT_NOANSWER = "CCNoAnswer"  # headers: Agent, DialStatus

# Asterisk's own variable naming the file a MixMonitor writes.
VAR_MIXMONITOR_FILENAME = "MIXMONITOR_FILENAME"
