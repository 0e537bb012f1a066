"""`callcenter ivr check | simulate | graph`: flows checked, run and drawn without a phone."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from callcenter.settings import Settings
from ivr.effects import AgentInfo, CustomerInfo
from ivr.graph import mermaid
from ivr.loader import FlowInvalid, Problem, read_flow
from ivr.model import Flow
from ivr.prompts import ASTERISK_SOUNDS, PromptStore
from ivr.registry import check_set
from ivr.simulate import Script, simulate


def prompt_store(settings: Settings) -> PromptStore:
    return PromptStore(settings.ivr.prompts_dir, ASTERISK_SOUNDS | frozenset(settings.ivr.system_prompts))


def load(files: list[Path], store: PromptStore) -> tuple[dict[str, Flow], list[Problem]]:
    """The named files, checked together with the other flows of their folders (for sub-flows)."""
    problems: list[Problem] = []
    flows: dict[Path, Flow] = {}
    wanted = {f.resolve() for f in files}
    folders = {f.resolve().parent for f in files}
    neighbours = {p.resolve() for folder in folders for p in folder.glob("*.y*ml")} - wanted
    for path in [*files, *sorted(neighbours)]:
        try:
            flows[path.resolve()] = read_flow(path, prompt_exists=store.exists)
        except FlowInvalid as exc:
            if path.resolve() in wanted:
                problems.extend(exc.problems)
        except OSError as exc:
            problems.append(Problem(str(path), 1, 1, None, f"cannot read: {exc.strerror or exc}"))
    by_name = {flow.name: flow for flow in flows.values()}
    sources = {str(f) for f in files}
    problems.extend(p for p in check_set(by_name) if p.source in sources)
    return by_name, problems


def configure(parser: argparse.ArgumentParser, settings_of: object) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="check flow files; exit 1 if any is wrong")
    check.add_argument("files", type=Path, nargs="+")
    sim = actions.add_parser("simulate", help="run a flow with a scripted caller; print what happens")
    sim.add_argument("file", type=Path)
    sim.add_argument("--ani", default="5550100", help="the calling number")
    sim.add_argument("--dnis", default="", help="the dialled number (default: the flow's first)")
    sim.add_argument("--digits", default="", help="keys per question, comma separated: 1,4711#,5 (empty: silence)")
    sim.add_argument("--customer", action="append", default=[], metavar="REF[:NUMBER][:vip]",
                     help="a known customer: reference, optional phone number, optional vip (repeatable)")
    sim.add_argument("--agent", metavar="ENDPOINT:NUMBER", help="the agent pick_agent finds (default: none)")
    sim.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                     help="a channel variable the flow reads (CC_AGENT, CC_QUEUE for the survey)")
    sim.add_argument("--http", action="append", default=[], metavar="URL=JSON", help="an outside system's answer")
    sim.add_argument("--at", help="the time of the call, ISO 8601 (default: Monday 2026-03-02 10:00 UTC)")
    sim.add_argument("--hangup-at", type=int, metavar="N", help="the caller hangs up during question N")
    graph = actions.add_parser("graph", help="print a flow as a Mermaid diagram")
    graph.add_argument("file", type=Path)


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = prompt_store(settings)
    files = args.files if args.action == "check" else [args.file]
    flows, problems = load(files, store)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"callcenter ivr {args.action}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    mine = [f for f in flows.values() if Path(f.source).resolve() in {p.resolve() for p in files}]
    if args.action == "check":
        for flow in mine:
            print(f"{flow.source}: flow {flow.name!r} is valid ({len(flow.nodes)} nodes)")
        return 0
    flow = mine[0]
    if args.action == "graph":
        sys.stdout.write(mermaid(flow))
        return 0
    try:
        script = _script(args)
    except ValueError as exc:
        print(f"callcenter ivr simulate: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(simulate(flows, flow, script).text())
    return 0


def _script(args: argparse.Namespace) -> Script:
    customers: dict[str, CustomerInfo] = {}
    for text in args.customer:
        ref, *rest = text.split(":")
        vip = "vip" in rest
        info = CustomerInfo(ref, f"Customer {ref}", vip)
        customers[ref] = info
        for number in (r for r in rest if r != "vip"):
            customers[number] = info
    agent = None
    if args.agent:
        endpoint, _, number = args.agent.partition(":")
        agent = AgentInfo(endpoint, number or "".join(c for c in endpoint if c.isdigit()))
    variables = dict(v.split("=", 1) for v in args.var if "=" in v)
    http = {}
    for text in args.http:
        url, _, body = text.partition("=")
        try:
            http[url] = json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--http {url}: not JSON ({exc.msg})") from None
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    if args.at:
        moment = datetime.fromisoformat(args.at)
        now = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return Script(ani=args.ani, dnis=args.dnis, digits=args.digits.split(",") if args.digits else [],
                  hang_up_at_question=args.hangup_at, customers=customers, agent=agent, http=http,
                  channel_variables=variables, now=now)
