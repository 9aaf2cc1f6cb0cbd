"""Checks on the values flytui puts into a flyctl command line."""
from __future__ import annotations


def check_arg(value: str, what: str) -> str:
    """A positional value (app, machine id, org, size…) that must not be mistaken for a flag."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is empty")
    if value.startswith("-") or any(ch in value for ch in "\x00\n\r"):
        raise ValueError(f"{what} {value!r} is not valid (it must not start with '-' or contain newlines)")
    return value
