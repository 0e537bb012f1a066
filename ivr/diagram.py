"""A flow as an SVG picture for the admin page, drawn here (no outside library, no script in the page).

One row per step from the start, breadth first: a node sits one row below the first node that leads to
it. Boxes show the node's id and what it does; decisions (branch, hours) are drawn with a double border,
the ends of the call with rounded ends. Arrows go down to the next row; an arrow back up or along a row
(a menu's retry, a loop) is drawn as a curve on the right. Labels are the key, condition or outcome.
Only presentation attributes are used (no <style>), so the picture needs nothing from a policy.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from ivr import model
from ivr.graph import edge_label, summary
from ivr.model import Flow, Node

CHAR_WIDTH = 7.6   # px per character at the font size used (an estimate: monospace would waste room)
MAX_CHARS = 36     # longer texts are cut with an ellipsis
BOX_HEIGHT = 42
ROW_GAP = 64
COLUMN_GAP = 26
MARGIN = 24
LABEL_AT = (0.7, 0.42)  # where along an arrow its label sits, in turn for the arrows leaving one box
FONT = "font-family=\"system-ui, sans-serif\" font-size=\"12\""


@dataclass(slots=True)
class _Box:
    node: Node
    row: int
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1] + "…"


def _rows(flow: Flow) -> list[list[Node]]:
    depth = {flow.start: 0}
    queue = deque([flow.start])
    while queue:
        node_id = queue.popleft()
        for _, target in model.targets(flow.nodes[node_id]):
            if target not in depth and target in flow.nodes:
                depth[target] = depth[node_id] + 1
                queue.append(target)
    last = max(depth.values(), default=0)
    for node_id in flow.nodes:  # the loader refuses unreachable nodes; drawn last should one slip through
        depth.setdefault(node_id, last + 1)
    rows: list[list[Node]] = [[] for _ in range(max(depth.values()) + 1)]
    for node_id, node in flow.nodes.items():
        rows[depth[node_id]].append(node)
    return rows


def svg(flow: Flow) -> str:
    """The flow as an SVG document (UTF-8 text)."""
    boxes: dict[str, _Box] = {}
    rows = _rows(flow)
    widths = []
    for row_index, row in enumerate(rows):
        x = float(MARGIN)
        for node in row:
            text = max(len(_cut(node.id)), len(_cut(summary(node))))
            box = _Box(node, row_index, x, MARGIN + 30 + row_index * (BOX_HEIGHT + ROW_GAP), text * CHAR_WIDTH + 26)
            boxes[node.id] = box
            x += box.width + COLUMN_GAP
        widths.append(x)
    width = max(widths, default=MARGIN) + MARGIN + 90  # room for the curves on the right and their labels
    height = MARGIN * 2 + 30 + len(rows) * (BOX_HEIGHT + ROW_GAP) - ROW_GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label={quoteattr("flow " + flow.name)}>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    start = boxes[flow.start]
    parts.append(f'<circle cx="{start.centre:.1f}" cy="{MARGIN + 6}" r="6" fill="#333"/>')
    parts.append(_line(start.centre, MARGIN + 12, start.centre, start.y, ""))
    for box in boxes.values():
        labels: dict[str, list[str]] = {}  # one arrow per target: a menu's key and its failure may share one
        for field_name, target in model.targets(box.node):
            if target in boxes:
                labels.setdefault(target, []).append(edge_label(box.node, field_name))
        for index, (target, texts) in enumerate(sorted(labels.items(), key=lambda item: boxes[item[0]].x)):
            # neighbouring arrows put their labels at different heights, so that they do not run together
            at = LABEL_AT[index % len(LABEL_AT)]
            parts.append(_edge(box, boxes[target], " / ".join(t for t in texts if t), width, at))
    for box in boxes.values():
        parts.append(_box(box))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _box(box: _Box) -> str:
    node = box.node
    ends = node.ENDS or isinstance(node, model.Return)
    decision = isinstance(node, model.Branch | model.Hours)
    fill = "#fdf3e1" if decision else "#e8f1fb" if not ends else "#eaf6ec"
    radius = BOX_HEIGHT / 2 if ends else 5
    shape = (f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{BOX_HEIGHT}" rx="{radius:.0f}" '
             f'fill="{fill}" stroke="#4a6785" stroke-width="{2.5 if decision else 1.2}"/>')
    title = (f'<text x="{box.centre:.1f}" y="{box.y + 17:.1f}" text-anchor="middle" font-weight="600" {FONT}>'
             f'{escape(_cut(node.id))}</text>')
    what = (f'<text x="{box.centre:.1f}" y="{box.y + 33:.1f}" text-anchor="middle" fill="#333" {FONT}>'
            f'{escape(_cut(summary(node)))}</text>')
    return f'<g><title>{escape(node.id)}: {escape(summary(node))}</title>{shape}{title}{what}</g>'


def _edge(source: _Box, target: _Box, label: str, width: float, at: float) -> str:
    if target.row > source.row:
        return _line(source.centre, source.y + BOX_HEIGHT, target.centre, target.y, label, at)
    # back up or along the row: a curve out to the right margin and back in
    x1, y1 = source.x + source.width, source.y + BOX_HEIGHT / 2
    x2, y2 = target.x + target.width, target.y + BOX_HEIGHT / 2
    bend = width - MARGIN
    path = f'<path d="M {x1:.1f} {y1:.1f} C {bend:.1f} {y1:.1f}, {bend:.1f} {y2:.1f}, {x2 + 2:.1f} {y2:.1f}" ' \
           f'fill="none" stroke="#999" stroke-dasharray="4 3" marker-end="url(#arrow)"/>'
    reach = max(x1, x2) + 0.75 * (bend - max(x1, x2))  # how far right the curve goes
    text = _label(reach + 4, (y1 + y2) / 2 + 4, label) if label else ""
    return path + text


def _line(x1: float, y1: float, x2: float, y2: float, label: str, at: float = 0.5) -> str:
    line = (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2 - 2:.1f}" stroke="#555" '
            f'marker-end="url(#arrow)"/>')
    return line + (_label(x1 + (x2 - x1) * at + 4, y1 + (y2 - y1) * at + 4, label) if label else "")


def _label(x: float, y: float, text: str, anchor: str = "start") -> str:
    # a white halo under the letters keeps a label readable where it crosses a line
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="#8a4b08" stroke="#ffffff" '
            f'stroke-width="3" paint-order="stroke" {FONT}>{escape(_cut(text))}</text>')
