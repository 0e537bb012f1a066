"""A flow as a Mermaid flowchart (`callcenter ivr graph`, the admin page)."""

from __future__ import annotations

import re

from ivr import model
from ivr.model import Flow, Node

_SAFE = re.compile(r"[^A-Za-z0-9_]")


def _id(node_id: str) -> str:
    return "n_" + _SAFE.sub("_", node_id)


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def summary(node: Node) -> str:
    """What a node does, in a few words (the second line of its box)."""
    if isinstance(node, model.Queue):
        return f"queue {node.queue}"
    if isinstance(node, model.Transfer):
        return f"transfer {node.agent or node.number}"
    if isinstance(node, model.Play):
        return "play " + ", ".join(p.value if p.kind == "file" else f"{p.kind} {p.value}" for p in node.prompts)
    if isinstance(node, model.Menu | model.Collect | model.Survey | model.Language):
        return f"{node.kind}: {node.prompt}"
    if isinstance(node, model.Subflow):
        return f"sub-flow {node.flow}"
    return node.kind


def mermaid(flow: Flow) -> str:
    lines = ["flowchart TD", f"  start((start)) --> {_id(flow.start)}"]
    for node in flow.nodes.values():
        text = f"{_label(node.id)}<br/>{_label(summary(node))}"
        if isinstance(node, model.Branch | model.Hours):
            shape = f'{{"{text}"}}'
        elif node.ENDS or isinstance(node, model.Return):
            shape = f'(["{text}"])'
        else:
            shape = f'["{text}"]'
        lines.append(f"  {_id(node.id)}{shape}")
    for node in flow.nodes.values():
        for field_name, target in model.targets(node):
            label = edge_label(node, field_name)
            arrow = f' -- "{_label(label)}" --> ' if label else " --> "
            lines.append(f"  {_id(node.id)}{arrow}{_id(target)}")
    return "\n".join(lines) + "\n"


def edge_label(node: Node, field_name: str) -> str:
    """The label of an arrow: the key, the condition or the outcome it stands for (empty: the way on)."""
    if field_name in ("next", "target"):
        return ""
    if field_name.startswith("options."):
        return "key " + field_name.split(".", 1)[1]
    if field_name.startswith("cases["):
        index = int(field_name[6:field_name.index("]")])
        assert isinstance(node, model.Branch)
        return node.cases[index].when.source
    return field_name.replace("_", " ")
