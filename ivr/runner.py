"""The flow runner: a state machine that walks a flow for one call. Pure: no I/O, no clock.

    runner = Runner(flows, call)
    step = runner.start(now)          # an Effect (an AGI command or a service request) or an Outcome
    while not isinstance(step, Outcome):
        step = runner.feed(answer_to(step), now)

The FastAGI adapter, `callcenter ivr simulate` and the tests drive the same runner. A caller who hangs up
(`200 result=-1`, the HANGUP line, `511`) ends the walk with outcome `caller-hangup`; a request the
services cannot answer takes the node's fallback; anything unexpected ends in outcome `error`, which
leaves the dialplan's defaults in place: the caller still reaches the default queue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote as url_quote

from ivr import model
from ivr.agi import AgiResult, command
from ivr.calendar import HOLIDAY, OPEN
from ivr.effects import (
    AgentInfo,
    Command,
    CreateTicket,
    CustomerInfo,
    Effect,
    FindCustomer,
    HttpRequest,
    PickAgent,
    RequestCallback,
    SaveSurvey,
)
from ivr.expr import render
from ivr.outcome import (
    CALLBACK,
    CALLER_HUNG_UP,
    COMPLETED,
    ERROR,
    HANGUP,
    QUEUE,
    TRANSFER,
    VAR_AGENT,
    VAR_QUEUE,
    VOICEMAIL,
    Outcome,
)

MAX_STEPS = 500  # nodes visited in one call: a loop without a question in it ends the walk (outcome error)
MAX_SUBFLOW_DEPTH = 8
_INTEGER = re.compile(r"-?\d+")  # compiled once: the queue node tests every call's priority
_EPOCH = datetime.fromtimestamp(0, UTC)
Step = Effect | Outcome
Walk = Generator[Effect, Any, Any]


@dataclass(frozen=True)
class CallInfo:
    """What the FastAGI environment tells about the call."""

    ani: str = ""
    dnis: str = ""
    caller_name: str = ""
    language: str = "en"
    uniqueid: str = ""
    channel: str = ""
    script: str = "ivr"         # the agi:// path: ivr or survey
    args: tuple[str, ...] = ()  # agi_arg_1 ...

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> CallInfo:
        def known(name: str) -> str:
            value = env.get(name, "")
            return "" if value in ("unknown", "<unknown>") else value

        extension = known("agi_extension")
        dnis = extension if extension and extension != "s" else known("agi_dnid")
        args = []
        for n in range(1, 10):
            if f"agi_arg_{n}" not in env:
                break
            args.append(env[f"agi_arg_{n}"])
        script = env.get("agi_network_script", "").strip("/") or "ivr"
        return cls(ani=known("agi_callerid"), dnis=dnis, caller_name=known("agi_calleridname"),
                   language=env.get("agi_language", "en") or "en", uniqueid=env.get("agi_uniqueid", ""),
                   channel=env.get("agi_channel", ""), script=script, args=tuple(args))


class _CallerGone(Exception):
    pass


class FlowFailed(Exception):
    pass


@dataclass
class _State:
    variables: dict[str, str]
    path: list[str] = field(default_factory=list)
    steps: int = 0
    language: str = ""


class Runner:
    def __init__(self, flows: Mapping[str, model.Flow], flow: model.Flow, call: CallInfo) -> None:
        self.flows = flows
        self.flow = flow
        self.call = call
        self.now = _EPOCH
        variables = {**flow.variables, "ani": call.ani, "dnis": call.dnis, "caller_name": call.caller_name,
                     "language": call.language, "uniqueid": call.uniqueid, "call_id": call.uniqueid,
                     "channel": call.channel, "flow": flow.name}
        for n, arg in enumerate(call.args[:3], start=1):
            variables[f"arg{n}"] = arg
        self.state = _State(variables)
        self.variables = variables  # the state's, read on every node
        self.outcome: Outcome | None = None
        self._walk = self._run()

    def start(self, now: datetime) -> Step:
        return self.feed(None, now)  # (a generator starts on None)

    def feed(self, answer: Any, now: datetime) -> Step:
        """The answer to the last effect (an AgiResult for a Command)."""
        self.now = now
        if self.outcome is not None:
            return self.outcome
        try:
            return self._walk.send(answer)
        except StopIteration as stop:
            outcome = stop.value
            assert isinstance(outcome, Outcome)
            self.outcome = outcome
            return outcome

    # ---- the walk ------------------------------------------------------------------------------------
    def _run(self) -> Walk:
        outcome: Outcome
        try:
            yield from self._cmd("ANSWER")
            if self.flow.language:
                yield from self._set_language(self.flow.language)
            if self.flow.has_survey:
                yield from self._read_call_variables()
            ended = yield from self._flow(self.flow, depth=0)
            outcome = ended if ended is not None else self._outcome(COMPLETED)  # `return` in the main flow
        except _CallerGone:
            outcome = self._outcome(CALLER_HUNG_UP)
        except FlowFailed as exc:
            outcome = self._outcome(ERROR, reason=str(exc))
        # the results, while the channel still exists (SET VARIABLE works on a hung-up channel too)
        for name, value in outcome.channel_variables():
            yield _command("SET VARIABLE", name, value)
        if outcome.kind == HANGUP:
            yield _command("HANGUP")
        return outcome

    def _read_call_variables(self) -> Walk:
        """The survey runs after the call on the caller's leg: who served it, in which queue, which call."""
        for name in (VAR_AGENT, VAR_QUEUE):
            result = yield from self._cmd("GET VARIABLE", name)
            self.variables[name] = result.data if result.result == "1" else ""
        # the call id of our CDRs is the caller leg's Linkedid (= its Uniqueid for a trunk call)
        result = yield from self._cmd("GET FULL VARIABLE", "${CHANNEL(linkedid)}")
        if result.result == "1" and result.data:
            self.variables["call_id"] = result.data

    def _flow(self, flow: model.Flow, depth: int) -> Walk:
        """Walk `flow` from its start; returns an Outcome, or None when it reached `return`."""
        node = flow.nodes[flow.start]
        prefix = "" if depth == 0 else f"{flow.name}/"
        while True:
            self.state.steps += 1
            if self.state.steps > MAX_STEPS:
                raise FlowFailed(f"more than {MAX_STEPS} nodes visited (a loop without a question?)")
            self.state.path.append(prefix + node.id)
            if isinstance(node, model.Return):
                return None
            if isinstance(node, model.Subflow):
                sub = self.flows.get(self.text(node.flow))
                if sub is None or depth >= MAX_SUBFLOW_DEPTH:
                    raise FlowFailed(f"sub-flow {node.flow!r} is not loaded" if sub is None else "sub-flows too deep")
                outcome = yield from self._flow(sub, depth + 1)
                if outcome is not None:
                    return outcome
                node = flow.nodes[node.next]
                continue
            result = yield from _NODE_HANDLERS[node.kind](self, node)
            if isinstance(result, Outcome):
                return result
            node = flow.nodes[result]

    # ---- helpers -------------------------------------------------------------------------------------
    def text(self, template: str) -> str:
        return render(template, self.variables)

    def _cmd(self, name: str, *args: str) -> Generator[Effect, Any, AgiResult]:
        effect = _command(name, *args)
        answer = yield effect
        if not isinstance(answer, AgiResult):
            raise FlowFailed(f"{effect.text!r} was answered with {answer!r}")
        if answer.caller_gone:
            raise _CallerGone
        return answer

    def _play(self, item: model.PromptItem) -> Walk:
        value = self.text(item.value)
        if item.kind == "file":
            if value:
                yield from self._cmd("STREAM FILE", value, "")
        elif item.kind == "digits":
            digits = re.sub(r"[^0-9*#]", "", value)
            if digits:
                yield from self._cmd("SAY DIGITS", digits, "")
        elif item.kind == "number":
            if _INTEGER.fullmatch(value.strip()):
                yield from self._cmd("SAY NUMBER", value.strip(), "")
        elif item.kind == "date":
            epoch = _epoch(value)
            if epoch is not None:
                yield from self._cmd("SAY DATE", str(epoch), "")

    def _prompt(self, name: str) -> Walk:
        if name:
            yield from self._play(model.PromptItem("file", name))

    def _ask(self, prompt: str, timeout: float, most: int) -> Generator[Effect, Any, str]:
        """GET DATA: the prompt, then up to `most` keys (# ends early); "" on timeout."""
        result = yield from self._cmd("GET DATA", self.text(prompt), str(round(timeout * 1000)), str(most))
        return result.result if result.code == 200 else ""

    def _outcome(self, kind: str, **values: Any) -> Outcome:
        return Outcome(kind=kind, flow=self.flow.name, customer=self.variables.get("customer", ""),
                       language=self.state.language, path=tuple(self.state.path), **values)

    def _set_language(self, code: str) -> Walk:
        yield from self._cmd("SET VARIABLE", "CHANNEL(language)", code)
        self.variables["language"] = code
        self.state.language = code

    # ---- node kinds ----------------------------------------------------------------------------------
    def _node_play(self, node: model.Play) -> Walk:
        for item in node.prompts:
            yield from self._play(item)
        return node.next

    def _node_menu(self, node: model.Menu) -> Walk:
        for attempt in range(node.retries + 1):
            key = yield from self._ask(node.prompt, node.timeout, 1)
            if key in node.options:
                if node.variable:
                    self.variables[node.variable] = key
                return node.options[key]
            if attempt < node.retries:
                yield from self._prompt(node.invalid_prompt)
        return node.on_failure

    def _node_collect(self, node: model.Collect) -> Walk:
        for attempt in range(node.retries + 1):
            digits = yield from self._ask(node.prompt, node.timeout, node.max)
            if node.min <= len(digits) <= node.max and (not node.pattern or re.fullmatch(node.pattern, digits)):
                self.variables[node.variable] = digits
                return node.next
            if attempt < node.retries:
                yield from self._prompt(node.invalid_prompt)
        return node.on_failure

    def _node_set(self, node: model.SetVariables) -> Walk:
        values = {name: self.text(text) for name, text in node.variables.items()}
        self.variables.update(values)
        return node.next
        yield  # a generator like the others

    def _node_branch(self, node: model.Branch) -> Walk:
        for case in node.cases:
            if case.when.test(self.variables):
                return case.goto
        return node.otherwise
        yield

    def _node_hours(self, node: model.Hours) -> Walk:
        state = self.flow.calendars[node.calendar].state(self.now)
        if state == HOLIDAY:
            return node.holiday or node.closed
        return node.open if state == OPEN else node.closed
        yield

    def _node_customer_lookup(self, node: model.CustomerLookup) -> Walk:
        value = self.call.ani if node.by == "caller" else self.variables.get(node.variable, "")
        by = "reference" if node.by == "reference" else "phone"
        found = (yield FindCustomer(by, value)) if value else None
        if not isinstance(found, CustomerInfo):
            return node.not_found
        self.variables.update(customer=found.reference, customer_name=found.name,
                              customer_vip="true" if found.vip else "false", customer_segment=found.segment)
        return node.found

    def _node_http(self, node: model.HttpLookup) -> Walk:
        url = render(node.url, {k: url_quote(v, safe="") for k, v in self.variables.items()})
        body = dict(self.variables) if node.method == "POST" else None
        answer = yield HttpRequest(url, node.method, node.timeout, body)
        if answer is None:
            return node.on_error
        for name, path in node.save.items():
            self.variables[name] = _dig(answer, path)
        return node.next

    def _node_ticket(self, node: model.Ticket) -> Walk:
        customer = self.variables.get("customer", "")
        if not customer:
            return node.on_error
        number = yield CreateTicket(customer, self.text(node.title), self.text(node.description),
                                    self.variables.get("call_id", ""))
        if not number:
            return node.on_error
        self.variables["ticket"] = str(number)
        return node.next

    def _node_pick_agent(self, node: model.PickAgent) -> Walk:
        agent = yield PickAgent(self.text(node.queue))
        if not isinstance(agent, AgentInfo):
            return node.none
        self.variables.update(agent=agent.endpoint, agent_number=agent.number, agent_name=agent.name)
        return node.found

    def _node_queue(self, node: model.Queue) -> Walk:
        yield from self._prompt(node.prompt)
        priority = self.text(node.priority).strip()
        return self._outcome(QUEUE, queue=self.text(node.queue), skills=dict(node.skills),
                             priority=int(priority) if _INTEGER.fullmatch(priority) else 0,
                             agent=self.text(node.agent))

    def _node_transfer(self, node: model.Transfer) -> Walk:
        yield from self._prompt(node.prompt)
        return self._outcome(TRANSFER, number=self.text(node.number), agent=self.text(node.agent))

    def _node_voicemail(self, node: model.Voicemail) -> Walk:
        yield from self._prompt(node.prompt)
        return self._outcome(VOICEMAIL, mailbox=self.text(node.mailbox))

    def _node_callback(self, node: model.Callback) -> Walk:
        number = ""
        for _attempt in range(2):
            digits = yield from self._ask(node.prompt, node.timeout, node.max)
            if not digits:
                number = self.call.ani  # # alone (or silence): the number the caller calls from
                break
            if node.min <= len(digits) <= node.max:
                number = digits
                break
        if not number:
            return self._outcome(HANGUP)
        queue = self.text(node.queue)
        yield RequestCallback(self.variables.get("call_id", ""), number, queue, self.variables.get("customer", ""))
        yield from self._prompt(node.goodbye)
        return self._outcome(CALLBACK, number=number, queue=queue)

    def _node_survey(self, node: model.Survey) -> Walk:
        for attempt in range(node.retries + 1):
            key = yield from self._ask(node.prompt, node.timeout, 1)
            if key and key in node.keys:
                yield SaveSurvey(self.variables.get("call_id", ""), self.flow.name, self.text(node.question) or node.id,
                                 int(key), self.variables.get(VAR_AGENT, ""), self.variables.get(VAR_QUEUE, ""))
                self.variables[f"survey_{node.id}"] = key
                break
            if attempt < node.retries:
                yield from self._prompt(node.invalid_prompt)
        return node.next

    def _node_language(self, node: model.Language) -> Walk:
        for _attempt in range(node.retries + 1):
            key = yield from self._ask(node.prompt, node.timeout, 1)
            if key in node.options:
                yield from self._set_language(node.options[key])
                break
        return node.next

    def _node_goto(self, node: model.Goto) -> Walk:
        return node.target
        yield

    def _node_hangup(self, node: model.Hangup) -> Walk:
        yield from self._prompt(node.prompt)
        return self._outcome(HANGUP)


# the walk of each node kind, by kind: Runner._node_menu for "menu"
_NODE_HANDLERS: dict[str, Callable[[Runner, Any], Walk]] = {
    name.removeprefix("_node_"): handler for name, handler in vars(Runner).items() if name.startswith("_node_")}


@lru_cache(maxsize=4096)
def _command(name: str, *args: str) -> Command:
    """A command for Asterisk. Cached: a flow sends the same few commands call after call (its prompts, its
    results), and quoting each word again, or building the frozen dataclass, costs more than the look-up."""
    return Command(command(name, *args))


def _dig(value: Any, path: str) -> str:
    for part in path.split(".") if path else []:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _epoch(value: str) -> int | None:
    text = value.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
