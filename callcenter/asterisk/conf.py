"""Reading Asterisk's `.conf` files: sections, templates, `key = value` and `key => value` lines.

The same reader serves the PBX simulator (which runs our shipped dialplan) and the checks of the files
we ship for a real Asterisk, so both see one truth. It follows Asterisk's config syntax:

- `[name]` opens a section; `[name](!)` a template; `[name](tpl1,tpl2)` one that inherits from templates;
  `[name](+)` adds to an earlier section of that name.
- `key = value` and `key => value` (objects, as `exten =>`); whitespace around both is trimmed.
- `;` starts a comment unless escaped as `\\;`; `;--` ... `--;` is a block comment.
- `#include file` / `#include "file"` reads another file in place (a relative name is taken relative to the
  including file's folder, which for files in Asterisk's config folder is where Asterisk looks too);
  `#tryinclude` does the same but a missing file is no error. An include that includes itself, directly
  or not, is an error. `#exec` is refused: it runs a program, and our files never need one.

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
    path: str = ""   # the file it was read from (an #include'd one, or the main file)


@dataclass
class Section:
    name: str
    line: int
    path: str = ""
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


def parse_conf(text: str, path: str = "<string>", *, include_dir: Path | None = None) -> ConfFile:
    """`include_dir`: where a relative `#include` is looked up (`read_conf` gives the file's folder);
    without it an `#include` is an error."""
    sections: list[Section] = []
    top = str(Path(path).resolve()) if include_dir is not None else path
    _Reader(sections, include_dir is not None).read(text, path, include_dir or Path("."), (top,))
    return ConfFile(path, sections)


class _Reader:
    def __init__(self, sections: list[Section], may_include: bool) -> None:
        self.sections = sections
        self.may_include = may_include
        self.current: Section | None = None  # an included file goes on in the section it was included in

    def read(self, text: str, path: str, folder: Path, chain: tuple[str, ...]) -> None:
        in_block = False
        for number, raw in enumerate(text.splitlines(), start=1):
            line, in_block = _strip_comment(raw, in_block)
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                self._directive(line, path, number, folder, chain)
                continue
            if line.startswith("["):
                self.current = _section_header(line, path, number, self.sections)
                continue
            if self.current is None:
                raise ConfError(path, number, f"option outside any [section]: {line!r}")
            self.current.entries.append(_entry(line, path, number))
        if in_block:
            raise ConfError(path, len(text.splitlines()), "block comment ;-- is never closed with --;")

    def _directive(self, line: str, path: str, number: int, folder: Path, chain: tuple[str, ...]) -> None:
        word, *rest = line.split(None, 1)
        argument = rest[0].strip().strip('"').strip() if rest else ""
        if word not in ("#include", "#tryinclude"):
            raise ConfError(path, number, f"{word} is not supported: our files never run programs")
        if not argument:
            raise ConfError(path, number, f"{word} without a file name")
        if not self.may_include:
            raise ConfError(path, number, f"{word} {argument}: only a file read from disk can include another")
        target = Path(argument)
        if not target.is_absolute():
            target = folder / target
        name = str(target)
        if str(target.resolve()) in chain:
            raise ConfError(path, number, f"{word} {argument}: includes itself ({' -> '.join((*chain, name))})")
        if not target.is_file():
            if word == "#tryinclude":
                return
            raise ConfError(path, number, f"{word} {argument}: no such file ({target})")
        try:
            text = target.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfError(name, 0, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        self.read(text, name, target.parent, (*chain, str(target.resolve())))


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
    section = Section(name, number, path, is_template="!" in options, templates=templates)
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
    return Entry(key, value, number, is_object, path)


def read_conf(path: Path) -> ConfFile:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfError(str(path), 0, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return parse_conf(text, str(path), include_dir=path.parent)
