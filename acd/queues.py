"""One queue's live indexes: its free agents in policy order, its waiting callers in service order.

Both are plain lists kept sorted with `bisect`: insertion and removal move at most a few thousand
pointers (one `memmove`), the first element is O(1), and iteration runs in order, which a heap cannot
give without popping. Keys are tuples whose last element makes them unique (agent id, call id). The
lists are used in place, without a wrapper class: these operations run on every routing decision, and
a Python call per operation was a measurable part of it.

Waiting callers are indexed twice: once in one list for positions (announcements), and once per
*signature* (relaxation stage and the call's own skills). All callers of one signature accept the same
agents, so a freed agent checks its skills once per signature and takes that bucket's first caller,
instead of checking every caller: the cost follows the number of distinct requirements in the queue,
not the number of callers.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator, Mapping

from acd.estimate import AnswerRate
from acd.model import QueueConfig, SkillRequirement
from acd.policy import AgentKey
from acd.skills import Groups, requirement_groups

Signature = tuple[int, tuple[SkillRequirement, ...]]  # relaxation stage, the call's own skills
CallKey = tuple[int, float, int, str]                 # -priority, arrived_at, seq, call_id


class QueueState:
    __slots__ = ("_buckets", "_call_index", "_free_keys", "_groups", "config", "free", "hours_armed",
                 "last_offered", "members", "offers", "rank", "rate", "timed", "version", "waiting")

    def __init__(self, config: QueueConfig) -> None:
        self.config = config
        self.rank = -config.priority             # service order between queues: lower first
        # a waiting caller has a deadline here (relaxation, overflow, max wait)
        self.timed = bool(config.relaxation) or config.overflow_after is not None or config.max_wait is not None
        self.members: set[str] = set()           # logged-in agents who serve this queue
        self.free: list[AgentKey] = []           # AgentKey of available members, sorted
        self._free_keys: dict[str, AgentKey] = {}
        self.waiting: list[CallKey] = []         # CallKey of every routable caller, sorted
        self._buckets: dict[Signature, list[CallKey]] = {}  # the same callers by signature, sorted
        self._call_index: dict[str, tuple[Signature, CallKey]] = {}
        self._groups: dict[Signature, Groups] = {}
        self.offers = 0                          # round robin: offers made by this queue so far
        self.last_offered: dict[str, int] = {}   # round robin: agent -> `offers` at its last offer
        self.rate = AnswerRate()
        self.hours_armed = False                 # a timer waits for the next opening-hours change
        self.version = 0                         # the current hours timer; older ones are stale

    # ---- free agents
    def add_free(self, agent_id: str, key: AgentKey) -> None:
        self._free_keys[agent_id] = key
        insort(self.free, key)

    def remove_free(self, agent_id: str) -> None:
        free = self.free
        del free[bisect_left(free, self._free_keys.pop(agent_id))]

    def is_free(self, agent_id: str) -> bool:
        return agent_id in self._free_keys

    def free_agent_ids(self) -> Iterator[str]:
        return (key[-1] for key in self.free)

    # ---- waiting callers
    def groups(self, signature: Signature) -> Groups:
        groups = self._groups.get(signature)
        if groups is None:
            groups = self._groups[signature] = requirement_groups(self.config, *signature)
        return groups

    def add_waiting(self, call_id: str, key: CallKey, signature: Signature) -> int:
        """Index the caller; returns its position (1 = next to be served)."""
        self._call_index[call_id] = (signature, key)
        waiting = self.waiting
        index = bisect_left(waiting, key)
        waiting.insert(index, key)
        bucket = self._buckets.get(signature)
        if bucket is None:
            self._buckets[signature] = [key]
        else:
            insort(bucket, key)
        return index + 1

    def remove_waiting(self, call_id: str) -> None:
        signature, key = self._call_index.pop(call_id)
        waiting = self.waiting
        del waiting[bisect_left(waiting, key)]
        bucket = self._buckets[signature]
        if len(bucket) == 1:
            del self._buckets[signature]
        else:
            del bucket[bisect_left(bucket, key)]

    def is_waiting(self, call_id: str) -> bool:
        return call_id in self._call_index

    def position(self, call_id: str) -> int | None:
        entry = self._call_index.get(call_id)
        return None if entry is None else bisect_left(self.waiting, entry[1]) + 1

    def best_call_for(self, skills: Mapping[str, int]) -> CallKey | None:
        """The first caller in service order whose requirement these skills meet."""
        best: CallKey | None = None
        get = skills.get
        for signature, bucket in self._buckets.items():
            head = bucket[0]  # buckets are never empty
            if best is not None and best < head:
                continue
            groups = self._groups.get(signature)
            if groups is None:
                groups = self.groups(signature)
            # `acd.skills.matches`, inlined: this loop runs for every queue of every freed agent
            for group in groups:
                for skill, level in group:
                    if get(skill, 0) < level:
                        break
                else:
                    best = head
                    break
        return best

    def waiting_call_ids(self) -> list[str]:
        return [key[-1] for key in self.waiting]
