"""Masking secrets before anything reaches a log, a listener or the screen.

Two entry points:

* :func:`redact_argv` masks what is secret in a flyctl argv: the value of every
  ``NAME=VALUE`` argument (``fly secrets set DATABASE_URL=...``), the value of
  token flags (``--access-token``/``-t``, ``--password``...), passwords inside URLs
  (``postgres://user:****@host``) and Fly API tokens (``FlyV1 fm2_...``).
* :func:`redact_text` masks a free text (stderr tail, error message): every known
  secret value given by the caller, plus URL passwords and Fly tokens.

:func:`secrets_in_argv` and :func:`secrets_in_env_text` collect the secret values
so the runner can also mask them in what flyctl prints back.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

MASK = "****"

#: flags whose next argument (or ``=value``) is a secret
SECRET_FLAGS: frozenset[str] = frozenset(
    {"--access-token", "-t", "--password", "--token", "--api-token", "--secret", "--private-key"}
)

_NAME_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
# scheme://user:password@host  -> keep scheme, user and host; mask the password
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)(?P<at>@)")
# Fly API tokens: "FlyV1 fm2_..." macaroons and bare fm1_/fm2_/fo1_ tokens
_FLY_TOKEN = re.compile(r"\b(?:FlyV1\s+)?f[mo][12]_[A-Za-z0-9+/=_\-,]{8,}")
# NAME=VALUE pairs embedded in a longer argument (e.g. ``-C "env API_KEY=x cmd"``)
_EMBEDDED_PAIR = re.compile(r"(?<![\w-])([A-Z][A-Z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S+)")


def _mask_urls_and_tokens(text: str) -> str:
    """Mask URL passwords and Fly tokens in ``text``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('at')}", text)
    return _FLY_TOKEN.sub(MASK, text)


STDIN_VALUE = "-"
"""``fly secrets set NAME=-`` takes the value from stdin: the ``-`` is a marker, not a value."""


def _redact_one(arg: str) -> str:
    """Redact a single argv element that is not a secret flag's value."""
    m = _NAME_VALUE.match(arg)
    if m:
        # ``NAME=-``: flyctl reads the value from stdin (secrets/set.go); the dash is no secret to hide
        return arg if m.group(2) == STDIN_VALUE else f"{m.group(1)}={MASK}"
    if arg.startswith("-") and "=" in arg:
        flag, _, value = arg.partition("=")
        if flag in SECRET_FLAGS:
            return f"{flag}={MASK}"
        pair = _NAME_VALUE.match(value)
        if pair:  # --env=NAME=VALUE
            return f"{flag}={pair.group(1)}={MASK}"
    masked = _mask_urls_and_tokens(arg)
    if " " in masked:  # a command string (ssh -C "..."): mask embedded NAME=VALUE pairs
        masked = _EMBEDDED_PAIR.sub(lambda p: f"{p.group(1)}={MASK}", masked)
    return masked


def redact_argv(argv: Sequence[str]) -> list[str]:
    """Return a copy of ``argv`` that is safe to log and show.

    >>> redact_argv(["fly", "secrets", "set", "A=b", "-t", "tok", "postgres://u:pw@h/db"])
    ['fly', 'secrets', 'set', 'A=****', '-t', '****', 'postgres://u:****@h/db']
    """
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        if arg in SECRET_FLAGS:
            out.append(arg)
            mask_next = True
            continue
        out.append(_redact_one(arg))
    return out


def secrets_in_argv(argv: Sequence[str]) -> list[str]:
    """The secret values present in ``argv`` (what :func:`redact_argv` masks)."""
    found: list[str] = []
    take_next = False
    for arg in argv:
        if take_next:
            found.append(arg)
            take_next = False
            continue
        if arg in SECRET_FLAGS:
            take_next = True
            continue
        m = _NAME_VALUE.match(arg)
        if m:
            if m.group(2) != STDIN_VALUE:
                found.append(m.group(2))
        elif arg.startswith("-") and "=" in arg:
            flag, _, value = arg.partition("=")
            pair = _NAME_VALUE.match(value)
            if flag in SECRET_FLAGS:
                found.append(value)
            elif pair:
                found.append(pair.group(2))
        found.extend(u.group("pw") for u in _URL_PASSWORD.finditer(arg))
        found.extend(t.group(0) for t in _FLY_TOKEN.finditer(arg))
    return [s for s in found if s]


def secrets_in_env_text(text: str) -> list[str]:
    """Values of ``NAME=VALUE`` lines (as fed to ``fly secrets import`` on stdin)."""
    found: list[str] = []
    for line in text.splitlines():
        m = _NAME_VALUE.match(line.strip())
        if m:
            value = m.group(2).strip().strip("\"'")
            if value:
                found.append(value)
    return found


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every value of ``secrets`` in ``text``, plus URL passwords and Fly tokens.

    Longer secrets are replaced first so a secret that contains another is fully masked.
    Empty strings are ignored.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _mask_urls_and_tokens(text)


__all__ = ["MASK", "SECRET_FLAGS", "redact_argv", "redact_text", "secrets_in_argv", "secrets_in_env_text"]
