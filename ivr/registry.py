"""The flows in service: every `*.yaml` of a folder, chosen by DNIS, reloaded when a file changes.

A file that fails its check never replaces the version in service: the old flow keeps answering calls,
and the problems are kept (`problems`) for the log and the admin page until the file is fixed. A new
file that fails is simply not in service. Checks across files: flow names are unique, a DNIS belongs to
one flow, sub-flows exist, at most one default flow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ivr.loader import FlowInvalid, Problem, PromptCheck, read_flow
from ivr.model import Flow, Subflow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowFile:
    """A flow file as the admin page shows it: the flow in service from it (if any), whether that is
    the file's present text, and what is wrong with the present text."""

    path: Path
    flow: Flow | None          # the version in service (None: the file never passed its check)
    running: bool              # the file's present text is the version in service
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class _Loaded:
    flow: Flow
    stamp: tuple[int, int]  # mtime_ns, size


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def check_set(flows: dict[str, Flow]) -> list[Problem]:
    """Problems between flows: unknown sub-flows, a DNIS in two flows, two defaults."""
    problems = []
    owner: dict[str, str] = {}
    defaults = []
    for flow in flows.values():
        for node in flow.nodes.values():
            if isinstance(node, Subflow) and node.flow not in flows and "${" not in node.flow:
                problems.append(Problem(flow.source, node.position.line, node.position.column, node.id,
                                        f"field 'flow' names flow {node.flow!r}, which is not loaded "
                                        f"(loaded: {', '.join(sorted(flows))})"))
        for number in flow.dnis:
            if number in owner and owner[number] != flow.name:
                problems.append(Problem(flow.source, 1, 1, None,
                                        f"DNIS {number} is already served by flow {owner[number]!r}"))
            owner.setdefault(number, flow.name)
        if flow.default:
            defaults.append(flow.name)
    if len(defaults) > 1:
        flow = flows[defaults[1]]
        problems.append(Problem(flow.source, 1, 1, None, f"flows {', '.join(defaults)} are all marked default"))
    return problems


class FlowRegistry:
    def __init__(self, folder: Path, *, prompt_exists: PromptCheck | None = None,
                 on_problem: Callable[[Problem], None] | None = None) -> None:
        self.folder = folder
        self.prompt_exists = prompt_exists
        self.on_problem = on_problem
        self._files: dict[Path, _Loaded] = {}
        self._seen: dict[Path, tuple[int, int] | None] = {}
        self._rejected: dict[Path, tuple[int, int] | None] = {}  # the file's version that failed
        self.problems: dict[str, list[Problem]] = {}  # file → what is wrong with its current text
        self.flows: dict[str, Flow] = {}
        self._by_dnis: dict[str, Flow] = {}
        self._default: Flow | None = None
        self.generation = 0  # counts the changes taken into service

    def _paths(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        except OSError:
            return []

    def changed(self) -> bool:
        """Did a file appear, change or go away since the last reload? (cheap: stat only)"""
        paths = self._paths()
        return set(paths) != set(self._seen) or any(_stamp(p) != self._seen[p] for p in paths)

    def reload(self) -> bool:
        """Read what changed; returns True if the flows in service changed."""
        paths = self._paths()
        files = {p: loaded for p, loaded in self._files.items() if p in paths}  # deleted files leave service
        new_problems = {k: v for k, v in self.problems.items() if Path(k) in paths}
        candidates: dict[Path, Flow] = {}
        for path in paths:
            stamp = _stamp(path)
            self._seen[path] = stamp
            unchanged = path in files and files[path].stamp == stamp and str(path) not in self.problems
            if stamp is None or unchanged or (str(path) in self.problems and self._rejected.get(path) == stamp):
                continue
            try:
                candidates[path] = read_flow(path, prompt_exists=self.prompt_exists)
            except FlowInvalid as exc:
                self._reject(path, stamp, exc.problems, new_problems)
            except OSError as exc:
                self._reject(path, stamp, [Problem(str(path), 1, 1, None, f"cannot read: {exc.strerror or exc}")],
                             new_problems)
        for path in list(self._seen):
            if path not in paths:
                del self._seen[path]
        # cross-file checks: a candidate that breaks them stays out of service
        for path, flow in candidates.items():
            trial = {p: loaded.flow for p, loaded in files.items()}
            trial.update(candidates)
            by_name = {f.name: f for f in trial.values()}
            mine = [p for p in check_set(by_name) if p.source == flow.source]
            names = [f.source for f in trial.values() if f.name == flow.name]
            if len(names) > 1:
                mine.append(Problem(flow.source, 1, 1, None, f"flow name {flow.name!r} is also used by "
                                                             f"{', '.join(n for n in names if n != flow.source)}"))
            if mine:
                self._reject(path, self._seen.get(path), mine, new_problems)
                continue
            stamp = self._seen.get(path)
            assert stamp is not None
            files[path] = _Loaded(flow, stamp)
            new_problems.pop(str(path), None)
            log.info("IVR: flow %r from %s in service", flow.name, path)
        changed = files != self._files
        self._files = files
        self.problems = new_problems
        if changed:
            self.generation += 1
            self.flows = {loaded.flow.name: loaded.flow for loaded in files.values()}
            self._by_dnis = {number: flow for flow in self.flows.values() for number in flow.dnis}
            self._default = next((f for f in self.flows.values() if f.default), None)
        return changed

    def _reject(self, path: Path, stamp: tuple[int, int] | None, problems: list[Problem],
                into: dict[str, list[Problem]]) -> None:
        self._rejected[path] = stamp
        into[str(path)] = problems
        kept = " (the version in service keeps answering)" if path in self._files else ""
        for problem in problems:
            log.error("IVR: %s%s", problem, kept)
            if self.on_problem is not None:
                self.on_problem(problem)

    def recheck(self) -> None:
        """Read the failing files again at the next reload though unchanged (a prompt they lacked may exist now)."""
        for path in self._rejected:
            self._seen.pop(path, None)  # changed() says yes
        self._rejected.clear()

    def files(self) -> list[FlowFile]:
        """Every flow file of the folder as of the last reload (blocking: stat only)."""
        found = []
        for path in sorted(set(self._paths()) | set(self._files)):
            loaded = self._files.get(path)
            problems = tuple(self.problems.get(str(path), ()))
            running = loaded is not None and not problems and loaded.stamp == _stamp(path)
            found.append(FlowFile(path, loaded.flow if loaded else None, running, problems))
        return found

    def file_of(self, name: str) -> Path | None:
        """The file of flow `name`: the one in service, else a file `<name>.yaml` (or .yml) that failed."""
        for path, loaded in self._files.items():
            if loaded.flow.name == name:
                return path
        for suffix in (".yaml", ".yml"):
            path = self.folder / f"{name}{suffix}"
            if str(path) in self.problems:
                return path
        return None

    def flow_for(self, dnis: str) -> Flow | None:
        """The flow for a dialled number: the one that lists it, else the default flow."""
        flow = self._by_dnis.get(dnis)
        if flow is None and dnis.startswith("+"):
            flow = self._by_dnis.get(dnis[1:])
        return flow or self._default

    def flow(self, name: str) -> Flow | None:
        return self.flows.get(name)
