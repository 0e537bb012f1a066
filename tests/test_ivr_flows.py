"""Flow files: the exact problems a broken file gets, the expression language, calendars, the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
import yaml

from ivr.calendar import build_calendar
from ivr.diagram import svg
from ivr.expr import ExprError, parse
from ivr.loader import FlowInvalid, parse_flow
from ivr.model import KINDS
from ivr.prompts import ASTERISK_SOUNDS
from ivr.schema import schema_text

ROOT = Path(__file__).resolve().parent.parent
FLOWS = sorted((ROOT / "config" / "ivr").glob("*.yaml"))

GOOD = """\
name: t
start: menu
nodes:
  menu:
    type: menu
    prompt: hello-world
    options: {"1": sales}
    on_failure: sales
  sales:
    type: queue
    queue: sales
"""


def problems(text: str, *, prompts: bool = False) -> list[str]:
    with pytest.raises(FlowInvalid) as caught:
        parse_flow(text, "f.yaml", prompt_exists=(lambda n: n in ASTERISK_SOUNDS) if prompts else None)
    return [str(p) for p in caught.value.problems]


def test_a_good_flow_loads() -> None:
    flow = parse_flow(GOOD, "f.yaml")
    assert flow.start == "menu" and set(flow.nodes) == {"menu", "sales"}
    assert flow.nodes["menu"].position.line == 4


def test_wrong_type() -> None:
    text = GOOD.replace("    on_failure: sales\n", "    on_failure: sales\n    timeout: soon\n")
    assert problems(text) == ["f.yaml:9:14: node 'menu': field 'timeout' must be a number of seconds, got 'soon'"]


def test_unknown_node_type() -> None:
    text = GOOD.replace("type: queue", "type: dance")
    assert problems(text) == [
        "f.yaml:10:11: node 'sales': unknown node type 'dance' (known: " + ", ".join(sorted(KINDS)) + ")"]


def test_unknown_field() -> None:
    text = GOOD.replace("    queue: sales\n", "    queue: sales\n    colour: red\n")
    assert problems(text) == ["f.yaml:12:5: node 'sales': unknown field 'colour' for a queue node "
                              "(known: queue, skills, priority, agent, prompt)"]


def test_missing_field() -> None:
    text = GOOD.replace("    on_failure: sales\n", "")
    assert problems(text) == ["f.yaml:4:3: node 'menu': missing field 'on_failure'"]


def test_missing_target() -> None:
    text = GOOD.replace('{"1": sales}', '{"1": sales, "2": nowhere}')
    assert problems(text) == ["f.yaml:7:32: node 'menu': field 'options.2' names node 'nowhere', which does not exist"]


def test_missing_start() -> None:
    assert problems(GOOD.replace("start: menu", "start: begin")) == [
        "f.yaml:2:8: field 'start' names node 'begin', which does not exist"]


def test_unreachable_node() -> None:
    text = GOOD + "  orphan:\n    type: hangup\n"
    assert problems(text) == ["f.yaml:12:3: node 'orphan': unreachable: no path from the start node 'menu'"]


def test_bad_expression() -> None:
    text = GOOD.replace('{"1": sales}', '{"1": check}') + (
        "  check:\n    type: branch\n    cases:\n      - {when: 'ani == ', goto: sales}\n    otherwise: sales\n")
    assert problems(text) == ["f.yaml:15:24: node 'check': field 'cases[0].when': bad expression: "
                              "expected a value, found the end"]


def test_unknown_variable_in_expression() -> None:
    text = GOOD.replace('{"1": sales}', '{"1": check}') + (
        "  check:\n    type: branch\n    cases:\n      - when: dnis == '1' or colour == 'red'\n"
        "        goto: sales\n    otherwise: sales\n")
    assert problems(text) == ["f.yaml:15:30: node 'check': field 'cases[0].when' uses unknown variable 'colour'"]


def test_missing_prompt() -> None:
    text = GOOD.replace("prompt: hello-world", "prompt: custom/welcome-to-nowhere")
    assert problems(text, prompts=True) == [
        "f.yaml:6:13: node 'menu': field 'prompt': prompt 'custom/welcome-to-nowhere' not found "
        "(upload it, or check the name)"]


def test_yaml_syntax_error() -> None:
    assert problems("start: a\nnodes: [\n") == [
        "f.yaml:3:1: not valid YAML: expected the node content, but found '<stream end>'"]


def test_duplicate_key_and_several_problems_at_once() -> None:
    text = GOOD.replace("    queue: sales\n", "    queue: sales\n    queue: support\n    retries: x\n")
    assert problems(text) == [
        "f.yaml:12:5: node 'sales': duplicate key 'queue'",
        "f.yaml:13:5: node 'sales': unknown field 'retries' for a queue node (known: queue, skills, priority, "
        "agent, prompt)",
    ]


def test_calendar_problems_name_the_calendar() -> None:
    text = GOOD + "calendars:\n  office: {time_zone: Mars/Olympus, week: {mon: ['08:00-18:00']}}\n"
    assert problems(text) == ["f.yaml:13:11: calendar 'office': unknown time zone 'Mars/Olympus'"]


@pytest.mark.parametrize("source, variables, expected", [
    ('ani == "5551234"', {"ani": "5551234"}, True),
    ("amount > 9", {"amount": "10"}, True),          # numbers compare as numbers
    ("name > 9", {"name": "abc"}, True),             # text as text
    ('dnis in ["1", "2"] and not (vip == true)', {"dnis": "2", "vip": "false"}, True),
    ('dnis not in ["1", "2"]', {"dnis": "2"}, False),
    ("len(entered) >= 4 and matches(entered, '^9')", {"entered": "9123"}, True),
    ("unset == ''", {}, True),
    ("startswith(ani, '+49') or endswith(ani, '7')", {"ani": "5557"}, True),
])
def test_expressions(source: str, variables: dict[str, str], expected: bool) -> None:
    assert parse(source).test(variables) is expected


@pytest.mark.parametrize("source, message, offset", [
    ("a ==", "expected a value, found the end", 4),
    ("a = 1", "unexpected character '='", 2),
    ("__import__('os')", "unknown function '__import__' (known: endswith, len, matches, number, startswith)", 0),
    ("a.b", "unexpected character '.'", 1),
    ("len(a, b)", "len() takes 1 argument, got 2", 0),
    ("(a == 1", "expected ')', found the end", 7),
])
def test_expression_errors(source: str, message: str, offset: int) -> None:
    with pytest.raises(ExprError) as caught:
        parse(source)
    assert (caught.value.message, caught.value.offset) == (message, offset)


def test_calendar_open_closed_holiday() -> None:
    calendar = build_calendar("Europe/Berlin", {"mon-fri": ["08:00-18:00"]}, ["2026-12-25"])
    assert calendar.state(datetime(2026, 3, 2, 6, 59, tzinfo=UTC)) == "closed"   # 07:59 in Berlin
    assert calendar.state(datetime(2026, 3, 2, 7, 0, tzinfo=UTC)) == "open"
    assert calendar.state(datetime(2026, 3, 7, 10, 0, tzinfo=UTC)) == "closed"   # Saturday
    assert calendar.state(datetime(2026, 12, 25, 10, 0, tzinfo=UTC)) == "holiday"


def test_the_schema_file_is_the_generated_one() -> None:
    assert (ROOT / "schemas" / "ivr-flow.schema.json").read_text() == schema_text(), \
        "regenerate: python -c 'from ivr.schema import schema_text; print(schema_text(), end=\"\")' > schemas/..."


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_shipped_flows_pass_the_schema(path: Path) -> None:
    schema = json.loads((ROOT / "schemas" / "ivr-flow.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_the_schema_rejects_what_the_loader_rejects() -> None:
    schema = json.loads((ROOT / "schemas" / "ivr-flow.schema.json").read_text())
    broken = yaml.safe_load(GOOD.replace("type: queue", "type: dance"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = yaml.safe_load(GOOD.replace("    queue: sales\n", "    queue: sales\n    colour: red\n"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_every_shipped_flow_draws_as_an_svg_with_all_its_nodes(path: Path) -> None:
    flow = parse_flow(path.read_text(encoding="utf-8"), str(path))
    drawing = ElementTree.fromstring(svg(flow))
    texts = {t.text for t in drawing.iter("{http://www.w3.org/2000/svg}text")}
    assert set(flow.nodes) <= texts  # one box per node, titled with its id (all short enough not to be cut)


def test_the_diagram_escapes_what_a_condition_says() -> None:
    branch = ("  check:\n    type: branch\n    cases:\n      - {when: 'ani < 3 and dnis != \"&\"', goto: menu}\n"
              "    otherwise: sales\n")
    flow = parse_flow(GOOD.replace("on_failure: sales", "on_failure: check") + branch, "f.yaml")
    drawing = svg(flow)
    ElementTree.fromstring(drawing)  # well formed
    assert "ani &lt; 3" in drawing and "&amp;" in drawing
