"""One queue's live indexes: its free agents in policy order, its waiting callers in service order.

Waiting callers are indexed twice: once in one list for positions (announcements), and once per
*signature* (relaxation stage and the call's own skills). All callers of one signature accept the same
agents, so a freed agent checks its skills once per signature and takes that bucket's first caller,
instead of checking every caller: the cost follows the number of distinct requirements in the queue,
not the number of callers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from acd.estimate import AnswerRate
from acd.index import SortedKeys
from acd.model import QueueConfig, SkillRequirement
from acd.policy import AgentKey
from acd.skills import Groups, matches, requirement_groups

Signature = tuple[int, tuple[SkillRequirement, ...]]  # relaxation stage, the call's own skills
CallKey = tuple[int, float, int, str]                 # -priority, arrived_at, seq, call_id


class QueueState:
    __slots__ = ("_buckets", "_call_index", "_free_keys", "_groups", "config", "free", "last_offered",
                 "members", "offers", "rate", "waiting")

    def __init__(self, config: QueueConfig) -> None:
        self.config = config
        self.members: set[str] = set()           # logged-in agents who serve this queue
        self.free: SortedKeys[AgentKey] = SortedKeys()  # AgentKey of available members
        self._free_keys: dict[str, AgentKey] = {}
        self.waiting: SortedKeys[CallKey] = SortedKeys()  # CallKey of every routable caller
        self._buckets: dict[Signature, SortedKeys[CallKey]] = {}
        self._call_index: dict[str, tuple[Signature, CallKey]] = {}
        self._groups: dict[Signature, Groups] = {}
        self.offers = 0                          # round robin: offers made by this queue so far
        self.last_offered: dict[str, int] = {}   # round robin: agent -> `offers` at its last offer
        self.rate = AnswerRate()

    # ---- free agents
    def add_free(self, agent_id: str, key: AgentKey) -> None:
        self._free_keys[agent_id] = key
        self.free.add(key)

    def remove_free(self, agent_id: str) -> None:
        self.free.remove(self._free_keys.pop(agent_id))

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

    def add_waiting(self, call_id: str, key: CallKey, signature: Signature) -> None:
        self._call_index[call_id] = (signature, key)
        self.waiting.add(key)
        bucket = self._buckets.get(signature)
        if bucket is None:
            bucket = self._buckets[signature] = SortedKeys[CallKey]()
        bucket.add(key)

    def remove_waiting(self, call_id: str) -> None:
        signature, key = self._call_index.pop(call_id)
        self.waiting.remove(key)
        bucket = self._buckets[signature]
        bucket.remove(key)
        if not bucket:
            del self._buckets[signature]

    def is_waiting(self, call_id: str) -> bool:
        return call_id in self._call_index

    def position(self, call_id: str) -> int | None:
        entry = self._call_index.get(call_id)
        return None if entry is None else self.waiting.rank(entry[1]) + 1

    def best_call_for(self, skills: Mapping[str, int]) -> CallKey | None:
        """The first caller in service order whose requirement these skills meet."""
        best: CallKey | None = None
        groups = self._groups
        for signature, bucket in self._buckets.items():
            head = bucket.first()
            if head is not None and (best is None or head < best):
                signature_groups = groups.get(signature)
                if signature_groups is None:
                    signature_groups = self.groups(signature)
                if matches(skills, signature_groups):
                    best = head
        return best

    def waiting_call_ids(self) -> list[str]:
        return [key[-1] for key in self.waiting]
