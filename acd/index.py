"""A sorted sequence of unique keys: the free agents of a queue, the callers of a queue.

A plain list kept in order with `bisect`: insertion and removal move at most a few thousand pointers
(one `memmove`), the first element is O(1), and iteration runs in order, which a heap cannot give
without popping. Keys are tuples whose last elements make them unique (agent id, arrival sequence).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=tuple[Any, ...])


class SortedKeys(Generic[K]):
    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: list[K] = []

    def add(self, key: K) -> None:
        insort(self._keys, key)

    def remove(self, key: K) -> None:
        index = bisect_left(self._keys, key)
        if index == len(self._keys) or self._keys[index] != key:
            raise KeyError(key)
        del self._keys[index]

    def rank(self, key: K) -> int:
        """0-based place of `key` (which must be present)."""
        return bisect_left(self._keys, key)

    def first(self) -> K | None:
        return self._keys[0] if self._keys else None

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)
