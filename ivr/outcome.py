"""How an IVR call ends, and the channel variables that carry it to the dialplan and the ACD.

The variable names are the Asterisk contract's (`cti/contract.py` repeats them: the packages are
independent, tests/test_ivr_wiring.py checks that the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field

VAR_QUEUE = "CC_QUEUE"
VAR_SKILLS = "CC_SKILLS"
VAR_PRIORITY = "CC_PRIORITY"
VAR_CUSTOMER = "CC_CUSTOMER"
VAR_LANGUAGE = "CC_LANGUAGE"
VAR_IVR_PATH = "CC_IVR_PATH"
VAR_IVR_OUTCOME = "CC_IVR_OUTCOME"
VAR_PREFERRED_AGENT = "CC_PREFERRED_AGENT"
VAR_TRANSFER = "CC_TRANSFER"
VAR_TRANSFER_AGENT = "CC_TRANSFER_AGENT"
VAR_VOICEMAIL = "CC_VOICEMAIL"
VAR_CALLBACK = "CC_CALLBACK"
VAR_AGENT = "CC_AGENT"  # set by the dialplan (cc-connect); the survey reads it

QUEUE, TRANSFER, VOICEMAIL, CALLBACK, HANGUP = "queue", "transfer", "voicemail", "callback", "hangup"
CALLER_HUNG_UP = "caller-hangup"  # the caller left during the IVR
ERROR = "error"  # the flow could not go on; the dialplan's defaults apply (CC_QUEUE stays the default queue)
COMPLETED = "completed"  # a flow (the survey) ran to its end without a call outcome

PATH_NODES = 40  # CC_IVR_PATH keeps the last nodes only: a channel variable is no log


@dataclass(frozen=True)
class Outcome:
    kind: str
    flow: str = ""
    queue: str = ""
    skills: dict[str, int] = field(default_factory=dict)
    priority: int = 0
    customer: str = ""
    language: str = ""
    agent: str = ""        # preferred agent (queue) or the agent transferred to
    number: str = ""       # transfer or callback number
    mailbox: str = ""
    path: tuple[str, ...] = ()
    reason: str = ""       # why, for kind error

    def channel_variables(self) -> list[tuple[str, str]]:
        """What the IVR leaves on the channel, in the order it is set."""
        out: list[tuple[str, str]] = []
        if self.kind == QUEUE:
            out.append((VAR_QUEUE, self.queue))
            out.append((VAR_SKILLS, ",".join(f"{s}:{level}" for s, level in self.skills.items())))
            out.append((VAR_PRIORITY, str(self.priority)))
            if self.agent:
                out.append((VAR_PREFERRED_AGENT, self.agent))
        elif self.kind == TRANSFER:
            out.append((VAR_TRANSFER_AGENT, self.agent) if self.agent else (VAR_TRANSFER, self.number))
        elif self.kind == VOICEMAIL:
            out.append((VAR_VOICEMAIL, self.mailbox))
        elif self.kind == CALLBACK:
            out.append((VAR_CALLBACK, self.number))
        if self.customer:
            out.append((VAR_CUSTOMER, self.customer))
        if self.language:
            out.append((VAR_LANGUAGE, self.language))
        if self.kind not in (ERROR,):
            out.append((VAR_IVR_OUTCOME, self.kind))
        out.append((VAR_IVR_PATH, ",".join(self.path[-PATH_NODES:])))
        return out
