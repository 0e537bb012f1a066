"""Checks shared by the request bodies of every feature."""

from __future__ import annotations

from typing import Any


def reject_nul(data: Any) -> Any:
    """PostgreSQL text cannot hold NUL (U+0000): refuse it in any string of a body, before it reaches
    the database as a server error."""
    if isinstance(data, str):
        if "\x00" in data:
            raise ValueError("text must not contain NUL characters (U+0000)")
    elif isinstance(data, dict):
        for key, value in data.items():
            reject_nul(key)
            reject_nul(value)
    elif isinstance(data, list | tuple):
        for item in data:
            reject_nul(item)
    return data
