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

STATE_WAITING = "waiting"
STATE_CONNECTING = "connecting"
STATE_POSTCALL = "postcall"

USEREVENT_WAITING = "CCWaiting"    # headers: Queue
USEREVENT_NOANSWER = "CCNoAnswer"  # headers: Agent, DialStatus

# Asterisk's own variable naming the file a MixMonitor writes.
VAR_MIXMONITOR_FILENAME = "MIXMONITOR_FILENAME"
# Asterisk's own variable on the Local channel pair of an attended transfer: the transferer's channel name.
VAR_ATTENDED_TRANSFER = "ATTENDEDTRANSFER"

# ---- added with the shipped Asterisk configuration (config/asterisk/) ------------------------------------
# Contexts. Each is a context of config/asterisk/extensions_callcenter.conf; tests/test_asterisk_config.py
# checks that the dialplan defines every *_CONTEXT here and no context that is not here.
AGENT_PHONE_CONTEXT = "agents"           # the agents' own phones (PJSIP endpoint context): what they dial; an
                                         # agent leg is created here, which is how the tracker knows agent legs
SUPERVISOR_PHONE_CONTEXT = "cc-supervisors"  # the supervisors' phones (endpoint context): what they dial
SURVEY_CONTEXT = "cc-survey"             # after the call: the keypad survey over FastAGI (when CC_SURVEY is set)
RECORD_CONTEXT = "cc-record"             # Gosub run on the answered agent / customer leg (Dial U()): MixMonitor
SUPERVISOR_CONTEXT = "cc-supervisor"     # Originate target of a supervisor's phone: ChanSpy on an agent
OUTBOUND_CONTEXT = "cc-outbound"         # Originate target of an agent leg (click-to-call, preview campaigns):
                                         # exten = the customer's number, dialled over the trunk on answer
CONSULT_CONTEXT = "cc-consult"           # the AMI Atxfer's Context (attended transfer): exten = an agent endpoint
                                         # or a number over the trunk, followed by CONSULT_END
CONSULT_END = "#"                        # ends the transfer target's digits at once (Asterisk's ast_app_dtget)

# Extensions of SUPERVISOR_CONTEXT: prefix + agent endpoint (`spy-agent1001`).
SPY_LISTEN_PREFIX = "spy-"       # listen only
SPY_WHISPER_PREFIX = "whisper-"  # talk to the agent only
SPY_BARGE_PREFIX = "barge-"      # talk to both

# Variables (channel variables; a global of the same name in [globals] is the default).
VAR_RING_TIMEOUT = "CC_RING_TIMEOUT"          # seconds an agent's phone rings before ring-no-answer
VAR_DEFAULT_QUEUE = "CC_DEFAULT_QUEUE"        # global: the queue a caller waits in when the IVR names none
VAR_FASTAGI = "CC_FASTAGI"                    # global: agi://host:port of our FastAGI server (IVR, survey)
VAR_SURVEY = "CC_SURVEY"                      # survey flow to run after the agent hangs up; empty: goodbye
VAR_RECORD = "CC_RECORD"                      # "yes": record the agent's conversation (MixMonitor)
VAR_RECORDINGS_DIR = "CC_RECORDINGS"          # global: folder MixMonitor writes into (shared with the server)
VAR_OUTBOUND_CALLERID = "CC_OUTBOUND_CALLERID"  # number the customer sees on outbound calls; empty: the trunk's
VAR_OUTBOUND_TIMEOUT = "CC_OUTBOUND_TIMEOUT"  # seconds the customer's phone rings on an outbound call

STATE_SURVEY = "survey"          # CC_STATE while the caller answers the survey

# The trunk's PJSIP endpoint (pjsip_callcenter.conf): inbound calls arrive from it, outbound calls leave by it.
TRUNK_ENDPOINT = "cc-trunk"
# FastAGI scripts (the path of the agi:// URL) the dialplan asks for.
AGI_IVR = "ivr"
AGI_SURVEY = "survey"

# ---- added with the IVR engine (ivr/): what a flow leaves on the caller's channel before it closes -------
# ivr/outcome.py holds the same names (the packages are independent); tests/test_ivr_wiring.py checks them.
# IVR_VAR_, not VAR_: the shipped dialplan does not read them yet, and callcenter/asterisk/check.py wants every
# VAR_ used there. A dialplan line that reads one (CC_TRANSFER ...) renames it to VAR_ in the same change.
IVR_VAR_SKILLS = "CC_SKILLS"                  # skills the IVR requires: "support:1,billing:40" (skill:min level)
IVR_VAR_PRIORITY = "CC_PRIORITY"              # waiting priority from the IVR (VIPs higher); integer, 0 default
IVR_VAR_CUSTOMER = "CC_CUSTOMER"              # reference of the customer the IVR identified (screen pop, no lookup)
IVR_VAR_LANGUAGE = "CC_LANGUAGE"              # language the caller chose (also set as CHANNEL(language))
IVR_VAR_IVR_PATH = "CC_IVR_PATH"              # the IVR nodes the caller went through, comma separated (the last 40)
VAR_IVR_OUTCOME = "CC_IVR_OUTCOME"            # queue / transfer / voicemail / callback / hangup / completed /
                                              # caller-hangup; unset: no IVR, or it failed (default queue applies)
IVR_VAR_PREFERRED_AGENT = "CC_PREFERRED_AGENT"  # agent endpoint the IVR chose: offered first whenever free
VAR_TRANSFER = "CC_TRANSFER"                  # outcome transfer: the number the dialplan should dial
VAR_TRANSFER_AGENT = "CC_TRANSFER_AGENT"      # outcome transfer: the agent endpoint the dialplan should ring
IVR_VAR_VOICEMAIL = "CC_VOICEMAIL"            # outcome voicemail: the mailbox (box@context) for VoiceMail()
IVR_VAR_CALLBACK = "CC_CALLBACK"              # outcome callback: the number the caller left

# ---- leaving without an agent (cc-exit): the IVR's outcome, or the ACD's decision ---------------------------
# The IVR's outcomes transfer / voicemail / callback go there from cc-inbound; the ACD sends a caller there with
# a Redirect to cc-exit,<extension>,1 when its queue is closed, full, without agents or waited too long.
EXIT_CONTEXT = "cc-exit"
EXIT_MESSAGE = "message"      # play CC_EXIT_PROMPT (the queue's message), then hang up
EXIT_VOICEMAIL = "voicemail"  # the caller leaves a message: a recording in CC_RECORDINGS (voicemail-<call id>.wav)
EXIT_CALLBACK = "callback"    # the caller is told it will be called back (the ACD keeps its place), then hang up
EXIT_TRANSFER = "transfer"    # the IVR's transfer: CC_TRANSFER_AGENT rings that agent, else CC_TRANSFER over the trunk
CALLBACK_VAR_FOR = "CC_CALLBACK_FOR"  # on a callback's originated agent leg: the call it calls back (ACD's id)
VAR_EXIT_PROMPT = "CC_EXIT_PROMPT"  # the prompt EXIT_MESSAGE plays; set by the ACD (Setvar) before the Redirect
STATE_EXIT = "exit"           # CC_STATE of a caller in EXIT_CONTEXT

# ---- announcements to waiting callers (cc-wait,announce,1) ---------------------------------------------------
# The ACD sets these on a waiting caller (Setvar), then Redirects it to cc-wait,announce,1; the dialplan says
# them and goes back to the music without a second CCWaiting. Empty: that part is not said.
WAIT_ANNOUNCE_EXTEN = "announce"
VAR_POSITION = "CC_POSITION"          # the caller's place in line, 1 = next
VAR_WAIT_MINUTES = "CC_WAIT_MINUTES"  # expected wait in whole minutes (2 or more; shorter is not announced)
