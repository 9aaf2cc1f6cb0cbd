"""A flyctl call as a value: what a confirmation shows is the object that then runs.

:class:`FlyClient` builds a :class:`FlyCommand` for every mutating call (``destroy_app_command``,
``machine_action_command``, ``unset_secrets_command``, ``set_secrets_commands``, ``scale_count_command``…);
the confirm dialog shows :meth:`FlyCommand.display` and the same object is handed to
:meth:`flytui.fly.runner.FlyctlRunner.execute`. Nobody rebuilds an argv in between.

Secrets: a value is never in ``args`` (it travels in ``stdin``); ``display`` masks whatever
:func:`flytui.fly.redact.redact_argv` masks, names what is on stdin without its content, and shows env
additions as ``NAME=****``.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Mapping

from .redact import MASK, redact_argv


@dataclass(frozen=True)
class FlyCommand:
    """One flyctl invocation: ``args`` after the flyctl path, ``stdin`` bytes, env additions, run options."""

    args: tuple[str, ...]
    #: bytes fed to flyctl's stdin (secret values); never shown
    stdin: bytes | None = field(default=None, repr=False)
    #: variables added to the child's environment (values masked on display)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float | None = None
    check: bool = True
    cwd: str | None = None
    #: what the command acts on (an app, a machine id, a secret name): lets a caller match results to targets
    target: str = ""
    #: what ``stdin`` holds, for the display (e.g. the secret names whose values it carries)
    stdin_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))

    def display_argv(self, program: str = "fly") -> list[str]:
        """The argv as shown: ``program`` + args, secrets masked (the runner logs the same redaction)."""
        return redact_argv([program, *self.args])

    def display(self, program: str = "fly") -> str:
        """One line for a confirmation: ``[NAME=**** ]fly args…[  < stdin: NAME, NAME]``."""
        line = shlex.join(self.display_argv(program))
        if self.env:
            line = " ".join(f"{name}={MASK}" for name in self.env) + " " + line
        if self.stdin is not None:
            what = ", ".join(self.stdin_names) if self.stdin_names else f"{len(self.stdin)} bytes"
            line += f"  < stdin: {what} (values hidden)"
        return line

    def with_args(self, *extra: str) -> "FlyCommand":
        """The same command with ``extra`` appended (e.g. ``--force`` after flyctl asked for it)."""
        from dataclasses import replace

        return replace(self, args=(*self.args, *extra))


def positional(value: str, what: str) -> str:
    """A positional value (app, machine id, org, size…) that flyctl must not mistake for a flag; ``ValueError``
    (a sentence naming ``what``) when it is empty, starts with ``-`` or holds a newline or NUL."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is empty")
    if value.startswith("-") or any(ch in value for ch in "\x00\n\r"):
        raise ValueError(f"{what} {value!r} is not valid (it must not start with '-' or contain newlines)")
    return value


__all__ = ["FlyCommand", "positional"]
