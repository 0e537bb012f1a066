"""Who hears whom: bridge membership and Local channel pairs.

Two channels hear each other when they share a bridge, or when one is bridged to a Local channel whose
other half is bridged to the other (a consultation or a Local-channel queue member). Pairs are keyed by
the Local channel's name without its `;1` / `;2` suffix, the one place where a name is the identity.
"""

from __future__ import annotations

from collections.abc import Callable


def local_pair_key(name: str) -> str | None:
    """`Local/1003@agents-00000000;1` -> `Local/1003@agents-00000000`; anything else -> None."""
    if name.startswith("Local/") and name[-2:] in (";1", ";2"):
        return name[:-2]
    return None


class BridgeGraph:
    def __init__(self) -> None:
        self._members: dict[str, set[str]] = {}
        self._pairs: dict[str, dict[str, str]] = {}  # pair key -> {";1": uid, ";2": uid}

    def __contains__(self, bridge_id: str) -> bool:
        return bridge_id in self._members

    def create(self, bridge_id: str) -> None:
        self._members.setdefault(bridge_id, set())

    def join(self, uid: str, bridge_id: str) -> None:
        self._members.setdefault(bridge_id, set()).add(uid)

    def part(self, uid: str, bridge_id: str) -> None:
        members = self._members.get(bridge_id)
        if members is not None:
            members.discard(uid)

    def members(self, bridge_id: str) -> list[str]:
        return sorted(self._members.get(bridge_id, ()))

    def destroy(self, bridge_id: str) -> None:
        self._members.pop(bridge_id, None)

    def add_local(self, name: str, uid: str) -> None:
        key = local_pair_key(name)
        if key is not None:
            self._pairs.setdefault(key, {})[name[-2:]] = uid

    def remove_local(self, name: str) -> None:
        key = local_pair_key(name)
        if key is None:
            return
        halves = self._pairs.get(key, {})
        halves.pop(name[-2:], None)
        if not halves:
            self._pairs.pop(key, None)

    def hearing(self, start: str, name_of: Callable[[str], str | None],
                bridge_of: Callable[[str], str | None]) -> list[str]:
        """Every live channel that `start` hears (itself included), through bridges and Local pairs."""
        found: list[str] = []
        seen: set[str] = set()
        visited_bridges: set[str] = set()
        stack = [start]
        while stack:
            uid = stack.pop()
            if uid in seen:
                continue
            seen.add(uid)
            name = name_of(uid)
            if name is None:
                continue
            found.append(uid)
            key = local_pair_key(name)
            if key is not None:
                stack.extend(self._pairs.get(key, {}).values())
            bridge_id = bridge_of(uid)
            if bridge_id is not None and bridge_id not in visited_bridges:
                visited_bridges.add(bridge_id)
                stack.extend(self._members.get(bridge_id, ()))
        return found
