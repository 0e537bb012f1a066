"""Skill matching: which agents may take a call, as the call's wait relaxes the requirement.

A call's requirement is a set of alternative skill groups; an agent matches when it has every skill of
one group at the group's minimum level or above. The first group is the queue's required skills plus
the call's own (e.g. a language); each relaxation step reached lowers that group's levels (never below
1: the skill itself stays required) and may add one more group (e.g. billing callers may also go to
sales agents). The call's own skills are part of every group: a French speaker needs one in any case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from acd.model import QueueConfig, SkillRequirement

Group = tuple[tuple[str, int], ...]      # (skill, minimum level), sorted by skill
Groups = tuple[Group, ...]


def _merge(*parts: Iterable[SkillRequirement], lower_by: int = 0) -> Group:
    levels: dict[str, int] = {}
    for part in parts:
        for requirement in part:
            levels[requirement.skill] = max(levels.get(requirement.skill, 0), requirement.min_level)
    return tuple(sorted((skill, max(1, level - lower_by)) for skill, level in levels.items()))


def requirement_groups(queue: QueueConfig, stage: int, call_skills: tuple[SkillRequirement, ...]) -> Groups:
    """The alternative groups of a call in `queue` that reached relaxation `stage` (0: none yet)."""
    steps = queue.relaxation[:stage]
    lower_by = sum(step.lower_by for step in steps)
    groups = [_merge(queue.required, call_skills, lower_by=lower_by)]
    groups.extend(_merge(step.add_group, call_skills) for step in steps if step.add_group)
    return tuple(dict.fromkeys(groups))  # a repeated group changes nothing; order kept


def matches(skills: Mapping[str, int], groups: Groups) -> bool:
    # plain loops: this runs on every routing decision, and generator expressions cost more here
    get = skills.get
    for group in groups:
        for skill, level in group:
            if get(skill, 0) < level:
                break
        else:
            return True
    return False


def relaxation_stage(queue: QueueConfig, waited: float) -> int:
    """How many relaxation steps a caller who waited `waited` seconds in `queue` has reached."""
    return sum(1 for step in queue.relaxation if waited >= step.after)
