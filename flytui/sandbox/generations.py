"""Which flyctl generation the sandbox imitates: ``$FLYTUI_SANDBOX_FLYCTL_VERSION`` (e.g. ``0.3.150``, ``0.1.90``).

Unset, the sandbox is today's flyctl: it reports :data:`~flytui.sandbox.state.FLYCTL_VERSION` and prints what
flyctl at ad0172f (v0.4.87-6, 2026-08) prints for everything below. The version only changes output where flyctl
changed it (dates and commits from ``git log -S`` in superfly/flyctl):

* ``STATUSLOGGER`` v0.1.104 (9ae660e52 "async statuslogger (#2755)", 2023-09-27): machine progress goes through
  internal/statuslogger: one stdout line per update ``<glyph> [i/n] text`` (no TTY → noninteractive.go). Before:
  ``  [1/2] Updating ID [app]`` … on stderr (machines_deploymachinesapp.go @ v0.1.103).
* ``UPDATE_SUCCEEDED`` v0.1.112 (fb160d4fd "Concurrent rolling deploys (#2936)", 2023-10-23): rolling updates end
  each machine with ``✔ [i/n] Machine ID [app] update succeeded`` and no longer print ``  Finished deploying``.
* ``DEPLOY_RETRIES`` v0.2.94 (1bdffec08 "Better recovery (#3709)", 2024-07-22): ``--deploy-retries`` (default
  ``auto``, a LaunchDarkly flag) routes updates through plan.go (lease / machine-config / good-state lines). The
  sandbox takes that path for ``--deploy-retries N`` (N > 0) or ``$FLYTUI_SANDBOX_DEPLOY_RETRIES`` (the flag's
  ``auto`` value).
* ``WATCH_STDIN`` v0.2.77 (3501aeb46 "Abort proxy when stdin gets closed (#3638)", 2024-06-28): ``fly proxy
  --watch-stdin``; older flyctl rejects it with ``Error: unknown flag: --watch-stdin``.
* ``PROXY_LOCALHOST`` v0.3.154 (ab42f7ecb "cleanup output for flyctl mpg proxy (#4473)", 2025-07-10): ``fly proxy``
  prints ``Proxying localhost:N to remote [HOST]:P``; before (since 2022): ``Proxying local port N to remote [HOST]:P``
  (proxy/connect.go).

Another generation (the ``secrets import`` parser) can hook in with :func:`at_least` the same way.
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from flytui.sandbox.state import FLYCTL_VERSION, SandboxError

if TYPE_CHECKING:  # pragma: no cover
    from flytui.sandbox.commands import Ctx

ENV = "FLYTUI_SANDBOX_FLYCTL_VERSION"
RETRIES_ENV = "FLYTUI_SANDBOX_DEPLOY_RETRIES"

STATUSLOGGER = (0, 1, 104)
UPDATE_SUCCEEDED = (0, 1, 112)
DEPLOY_RETRIES = (0, 2, 94)
WATCH_STDIN = (0, 2, 77)
PROXY_LOCALHOST = (0, 3, 154)

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def version() -> str:
    """The flyctl version the sandbox plays (``X.Y.Z``, no ``v``)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return FLYCTL_VERSION
    m = _VERSION.fullmatch(raw)
    if not m:
        raise SandboxError(f"${ENV}={raw!r} is not a flyctl version like 0.3.150")
    return ".".join(m.groups())


def version_tuple() -> tuple[int, int, int]:
    a, b, c = (int(x) for x in version().split("."))
    return a, b, c


def at_least(v: tuple[int, int, int]) -> bool:
    return version_tuple() >= v


def deploy_retries(ctx: "Ctx") -> int:
    """``--deploy-retries`` (``auto`` → ``$FLYTUI_SANDBOX_DEPLOY_RETRIES``, else 0); the flag is unknown before
    v0.2.94 (internal/command/deploy/deploy.go)."""
    if not at_least(DEPLOY_RETRIES):
        if ctx.flag("deploy_retries") is not None:
            raise SandboxError("unknown flag: --deploy-retries")
        return 0
    raw = str(ctx.flag("deploy_retries") or "auto")
    if raw == "auto":
        raw = os.environ.get(RETRIES_ENV, "0") or "0"
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < 0:
        raise SandboxError("--deploy-retries must be set to a positive integer, 0, or 'auto'")
    return n


def proxy_ready_line(local: int | str, remote: str) -> str:
    """``fly proxy``'s ready line (proxy/connect.go); ``remote`` is ``[host]:port``."""
    if at_least(PROXY_LOCALHOST):
        return f"Proxying localhost:{local} to remote {remote}"
    return f"Proxying local port {local} to remote {remote}"


# ---- internal/statuslogger, non-interactive ------------------------------------------------------
RUNNING, SUCCESS, FAILURE, NONE = ">", "✔", "✖", " "


class StatusLogger:
    """internal/statuslogger/noninteractive.go @ ad0172f: flytui runs flyctl with no TTY, so
    ``IsInteractive()`` (stdin and stdout TTYs, iostreams.go) is false and every ``Log`` prints one line on
    **stdout**: ``<glyph> `` when created with showStatus, ``[i/n] `` (zero-padded, shared.go formatIndex) when
    there is more than one line, then the text. ``Logf`` keeps the line's last status glyph."""

    def __init__(self, ctx: "Ctx", lines: int, show_status: bool = True) -> None:
        self.ctx = ctx
        self.total = lines
        self.show_status = show_status
        self.status = [NONE] * lines

    def _index(self, i: int) -> str:
        pad = len(str(self.total))
        return f"[{i + 1:0{pad}d}/{self.total}]"

    def log(self, i: int, text: str) -> None:
        buf = ""
        if self.show_status:
            buf += self.status[i] + " "
        if self.total > 1:
            buf += self._index(i) + " "
        self.ctx.out(buf + text)

    def log_status(self, i: int, status: str, text: str) -> None:
        self.status[i] = status
        self.log(i, text)

    def failed(self, i: int, error: str) -> None:
        """``Failed(err)``: the error's first line."""
        self.log_status(i, FAILURE, "Failed: " + error.split("\n", 1)[0])


__all__ = ["ENV", "RETRIES_ENV", "STATUSLOGGER", "UPDATE_SUCCEEDED", "DEPLOY_RETRIES", "WATCH_STDIN", "PROXY_LOCALHOST",
           "version", "version_tuple", "at_least", "deploy_retries", "proxy_ready_line", "StatusLogger",
           "RUNNING", "SUCCESS", "FAILURE", "NONE"]
