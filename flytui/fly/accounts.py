"""Several Fly accounts (issue 19, like fly-tui's fleet view): one token per account, never written by flytui.

``$FLYTUI_ACCOUNTS`` or ``$XDG_CONFIG_HOME/flytui/accounts.toml``::

    [[account]]
    name = "work"
    token = "env:FLY_TOKEN_WORK"      # read from flytui's environment; "fly" = flyctl's own login (default)
    read_only = true                  # every mutating command refused while this account is in use
    orgs = ["acme"]                   # optional: only these orgs
    must_stay_up = ["api", "shop-*"]  # apps whose services must never scale to zero (warned)

A raw token in the file is refused: the file says where the token is, never the token.

How the token reaches flyctl (internal/config/config.go + internal/env/env.go @ ad0172f): ``applyEnv`` takes the
first of ``FLY_ACCESS_TOKEN``, ``FLY_API_TOKEN`` that *exists* in the environment (``os.LookupEnv``), even if it is
empty, and uses flyctl's config file only when that value is empty. So an ``env:`` account sets **both** variables in
the child's environment (a ``FLY_ACCESS_TOKEN`` inherited from the shell would otherwise win), and a ``fly`` account
sets ``FLY_ACCESS_TOKEN=""`` so flyctl uses its own login even when the shell exports a token. Never argv
(``--access-token`` would show in ``ps``).
"""
from __future__ import annotations

import fnmatch
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

TOKEN_KEYS = ("FLY_ACCESS_TOKEN", "FLY_API_TOKEN")  # config.go AccessTokenEnvKey, APITokenEnvKey, in this order


class AccountsError(ValueError):
    """The accounts file is not usable (the sentence says what to fix)."""


@dataclass(frozen=True)
class Account:
    name: str
    token_source: str = "fly"  # "fly" | "env:NAME"
    read_only: bool = False
    orgs: tuple[str, ...] = ()
    must_stay_up: tuple[str, ...] = ()
    implicit: bool = False  # the console's own flyctl login (no accounts file)

    def child_env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """What the account's flyctl children get on top of the runner's environment (the token, never argv).

        Raises :class:`AccountsError` when the environment variable named by ``env:NAME`` is missing or empty.
        """
        if self.token_source == "fly":
            return {"FLY_ACCESS_TOKEN": ""}
        var = self.token_source[4:]
        value = (os.environ if environ is None else environ).get(var, "")
        if not value.strip():
            raise AccountsError(f"account {self.name}: the environment variable {var} is not set (its token)")
        return {key: value.strip() for key in TOKEN_KEYS}

    def runner(self, base: Any) -> Any:
        """A ``FlyctlRunner`` like ``base`` (same flyctl, timeout, folder) whose children carry this account's token
        in their environment (:meth:`child_env`; never argv). Raises :class:`AccountsError` like ``child_env``."""
        from flytui.fly.runner import FlyctlRunner

        env = {**dict(getattr(base, "env", {}) or {}), **self.child_env()}
        return FlyctlRunner(getattr(base, "path", None), env=env,
                            default_timeout=getattr(base, "default_timeout", 60.0), cwd=getattr(base, "cwd", None))

    def shows_org(self, slug: str) -> bool:
        return not self.orgs or slug in self.orgs

    def must_stay_up_app(self, app: str) -> bool:
        return any(fnmatch.fnmatchcase(app, pat) for pat in self.must_stay_up)


def default_accounts_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("FLYTUI_ACCOUNTS"):
        return Path(env["FLYTUI_ACCOUNTS"])
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "flytui" / "accounts.toml"


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise AccountsError(f"{what} must be a string or a list of strings")


def parse_accounts(text: str, source: str = "accounts.toml") -> list[Account]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccountsError(f"{source}: invalid TOML: {exc}") from None
    entries = data.get("account")
    if not isinstance(entries, list) or not entries:
        raise AccountsError(f"{source}: no [[account]] table")
    out: list[Account] = []
    for i, e in enumerate(entries):
        where = f"{source}: account #{i + 1}"
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e["name"].strip():
            raise AccountsError(f"{where}: name is required")
        name = e["name"].strip()
        if any(a.name == name for a in out):
            raise AccountsError(f"{where}: the name {name!r} is used twice")
        token = e.get("token", "fly")
        if not isinstance(token, str) or not (token == "fly" or (token.startswith("env:") and len(token) > 4)):
            raise AccountsError(f"{where} ({name}): token must be \"fly\" (flyctl's login) or \"env:VARIABLE\"; "
                                "a token itself never goes in this file")
        read_only = e.get("read_only", False)
        if not isinstance(read_only, bool):
            raise AccountsError(f"{where} ({name}): read_only must be true or false")
        out.append(Account(name, token, read_only, _strings(e.get("orgs"), f"{where} ({name}): orgs"),
                           _strings(e.get("must_stay_up"), f"{where} ({name}): must_stay_up")))
    return out


def load_accounts(path: Path | None = None) -> list[Account]:
    """The accounts of the file, or one implicit account (the console's own login) when there is no file."""
    path = path or default_accounts_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [Account("default", implicit=True)]
    except OSError as exc:
        raise AccountsError(f"{path}: {exc.strerror or exc}") from None
    return parse_accounts(text, str(path))


@dataclass
class FleetApp:
    """One row of the fleet: an app of an org of an account, with its machines summarised."""

    account: Account
    org: str
    name: str
    status: str = ""
    machines: int = 0
    started: int = 0
    min_running: int | None = None
    scales_to_zero: bool = False
    error: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.account.name}/{self.name}"

    def warning(self) -> tuple[str, str]:
        """(text, level) with level ``error`` | ``warning`` | ``info`` | ``""``."""
        if self.error:
            return self.error, "error"
        if self.min_running and self.started < self.min_running:
            return f"{self.started} started < min_machines_running {self.min_running}", "error"
        if self.scales_to_zero and self.account.must_stay_up_app(self.name):
            return "must stay up, but min_machines_running = 0: every machine may stop", "warning"
        if self.scales_to_zero:
            return "may scale to zero (min_machines_running = 0)", "info"
        return "", ""
