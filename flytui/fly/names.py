"""The one app-name rule of flytui (create-app form, ``FlyClient.create_app``, fly.toml validation).

The rule is flyctl's own, at ad0172f:

- ``internal/command/launch/plan_builder.go`` ``validateAppName``: a name matching ``[^a-z0-9\\-]`` fails with
  "app name must consist of only lowercase letters, numbers, and dashes". Nothing else is checked there: a name
  may start with a digit (``1app``) or hold two dashes in a row.
- ``internal/command/machine/run.go`` cuts the app names flyctl makes up to 63 characters (one DNS label, the
  ``APP.fly.dev`` host): flytui refuses longer ones before asking the platform.

One addition of flytui's own: a name must not start with ``-``, or flyctl (cobra) would read it as a flag.
Whatever else the platform refuses (a taken name…) comes back as flyctl's error text.
"""
from __future__ import annotations

import re

#: the characters flyctl's validateAppName allows (its failRegex is ``[^a-z0-9\-]``)
APP_NAME_CHARS = re.compile(r"[a-z0-9-]+", re.ASCII)
#: flyctl keeps the app names it makes to one DNS label (machine/run.go)
APP_NAME_MAX = 63


def app_name_error(name: str) -> str | None:
    """Why ``name`` is not a valid app name (a sentence to show as is), or None when it is one."""
    if not name:
        return "App name is empty: use lowercase letters, digits and dashes."
    if len(name) > APP_NAME_MAX:
        return f"App name {name!r} is {len(name)} characters long; the limit is {APP_NAME_MAX}."
    if not APP_NAME_CHARS.fullmatch(name):
        return f"Invalid app name {name!r}: use only lowercase letters, digits and dashes."
    if name.startswith("-"):
        return f"Invalid app name {name!r}: it must not start with a dash (flyctl would read it as a flag)."
    return None


def validate_app_name(name: str) -> str:
    """``name`` when it is a valid app name, else ``ValueError`` with :func:`app_name_error`'s sentence."""
    error = app_name_error(name)
    if error is not None:
        raise ValueError(error)
    return name


__all__ = ["APP_NAME_CHARS", "APP_NAME_MAX", "app_name_error", "validate_app_name"]
