"""Reading Asterisk's `.conf` files: sections, templates, `key = value` and `key => value` lines.

The same reader serves the PBX simulator (which runs our shipped dialplan) and the checks of the files
we ship for a real Asterisk, so both see one truth. It follows Asterisk's config syntax:

- `[name]` opens a section; `[name](!)` a template; `[name](tpl1,tpl2)` one that inherits from templates;
  `[name](+)` adds to an earlier section of that name.
- `key = value` and `key => value` (objects, as `exten =>`); whitespace around both is trimmed.
- `;` starts a comment unless escaped as `\\;`; `;--` ... `--;` is a block comment.
- `#include` and `#exec` are refused with a clear error: our files are self-contained.

An error names the file, the line and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class ConfError(ValueError):
    """A line the reader cannot accept, with its place."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    line: int
    is_object: bool  # written with `=>`


@dataclass
class Section:
    name: str
    line: int
    is_template: bool = False
    templates: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The last value of `key` (Asterisk: a later line wins for plain options)."""
        for entry in reversed(self.entries):
            if entry.key == key:
                return entry.value
        return default

    def values(self, key: str) -> list[str]:
        return [entry.value for entry in self.entries if entry.key == key]


@dataclass
class ConfFile:
    path: str
    sections: list[Section]

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def resolved(self, name: str) -> dict[str, str]:
        """A section's options with its templates' options under them (last value of each key wins)."""
        section = self.section(name)
        if section is None:
            raise KeyError(name)
        options: dict[str, str] = {}
        for template in section.templates:
            options.update(self.resolved(template))
        for entry in section.entries:
            options[entry.key] = entry.value
        return options


def _strip_comment(text: str, in_block: bool) -> tuple[str, bool]:
    out: list[str] = []
    i = 0
    while i < len(text):
        if in_block:
            end = text.find("--;", i)
            if end < 0:
                return "".join(out), True
            i, in_block = end + 3, False
            continue
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if char == ";":
            if text.startswith(";--", i):
                in_block = True
                i += 3
                continue
            break
        out.append(char)
        i += 1
    return "".join(out), in_block


def parse_conf(text: str, path: str = "<string>") -> ConfFile:
    sections: list[Section] = []
    current: Section | None = None
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line, in_block = _strip_comment(raw, in_block)
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            raise ConfError(path, number, f"{line.split()[0]} is not supported: keep the file self-contained")
        if line.startswith("["):
            current = _section_header(line, path, number, sections)
            continue
        if current is None:
            raise ConfError(path, number, f"option outside any [section]: {line!r}")
        current.entries.append(_entry(line, path, number))
    if in_block:
        raise ConfError(path, len(text.splitlines()), "block comment ;-- is never closed with --;")
    return ConfFile(path, sections)


def _section_header(line: str, path: str, number: int, sections: list[Section]) -> Section:
    close = line.find("]")
    if close < 0:
        raise ConfError(path, number, f"section header without ']': {line!r}")
    name = line[1:close].strip()
    if not name:
        raise ConfError(path, number, "empty section name")
    rest = line[close + 1:].strip()
    options: list[str] = []
    if rest:
        if not (rest.startswith("(") and rest.endswith(")")):
            raise ConfError(path, number, f"unexpected text after the section header: {rest!r}")
        options = [o.strip() for o in rest[1:-1].split(",") if o.strip()]
    if "+" in options:
        existing = next((s for s in sections if s.name == name), None)
        if existing is None:
            raise ConfError(path, number, f"[{name}](+) adds to a section that does not exist yet")
        return existing
    known = {s.name for s in sections if s.is_template}
    templates = tuple(o for o in options if o != "!")
    for template in templates:
        if template not in known:
            raise ConfError(path, number, f"[{name}] inherits from unknown template {template!r}")
    section = Section(name, number, is_template="!" in options, templates=templates)
    sections.append(section)
    return section


def _entry(line: str, path: str, number: int) -> Entry:
    arrow, equals = line.find("=>"), line.find("=")
    if equals < 0:
        raise ConfError(path, number, f"expected 'key = value' or 'key => value': {line!r}")
    is_object = arrow >= 0 and arrow == equals
    key = line[:equals].strip()
    value = line[equals + (2 if is_object else 1):].strip()
    if not key:
        raise ConfError(path, number, f"missing option name: {line!r}")
    return Entry(key, value, number, is_object)


def read_conf(path: Path) -> ConfFile:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfError(str(path), 0, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return parse_conf(text, str(path))
