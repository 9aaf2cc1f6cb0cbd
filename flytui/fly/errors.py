"""Typed errors for everything that talks to flyctl.

Every error carries what the UI needs to show a clear message: a one-line
``message`` (flyctl's own ``Error: ...`` text when there is one), the argv that
ran (secrets already redacted), the exit code, the stderr tail, and a ``hint``
telling the user what to do next.
"""
from __future__ import annotations

import os
import re
import shlex
from typing import Sequence


class FlyError(Exception):
    """Base of every error raised by ``flytui.fly`` and ``flytui.db``."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class FlyctlError(FlyError):
    """flyctl ran and failed (or could not be run)."""

    #: the generic hint; a plain ``FlyctlError`` with an argv gets a specific one (:meth:`output_hint`)
    hint = ("Press @ for the command log (every flyctl call, its exit code and stderr); "
            "run the command in a terminal for more detail.")

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stderr: str = "",
        stdout: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        self.stdout = stdout
        if hint is None and type(self).hint is FlyctlError.hint and self.argv:
            self.hint = self.output_hint()

    def output_hint(self) -> str:
        """What to do next, true to what the user can see: the error line alone is all a notification shows,
        so flyctl's other stderr lines are quoted here and the command log (``@``) is named."""
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        extra = [ln for ln in lines if self.message not in ln][-3:]
        code = f" exited with code {self.returncode}" if self.returncode is not None else " failed"
        shown = shlex.join([os.path.basename(self.argv[0]), *self.argv[1:]])  # `fly …`, not the install path
        out = [f"`{shown}`{code}."]
        if extra:
            out.append("flyctl also printed:\n" + "\n".join(ln[:200] for ln in extra))
        out.append("The full flyctl output is in the command log (press @); run the command in a terminal for more detail.")
        return "\n".join(out)

    @property
    def stderr_tail(self) -> str:
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return "\n".join(lines[-12:])

    @property
    def command(self) -> str:
        import shlex

        return shlex.join(self.argv)


class FlyctlNotFound(FlyctlError):
    hint = (
        "Install flyctl (https://fly.io/docs/flyctl/install/) or point flytui at it with "
        "--flyctl PATH, the FLYTUI_FLYCTL environment variable or `flyctl` in the config file."
    )


class NotLoggedIn(FlyctlError):
    hint = "Log in with `fly auth login` (or set FLY_API_TOKEN), then press r to refresh."


class AppNotFound(FlyctlError):
    hint = "Check the app name (fly.toml `app = ...` or --app), or create it first."


class PaymentRequired(FlyctlError):
    hint = "Fly.io needs a payment method for this: add a card at https://fly.io/dashboard/personal/billing"

    @property
    def billing_url(self) -> str | None:
        m = re.search(r"https://fly\.io/dashboard/\S*billing", self.stderr + " " + self.message)
        return m.group(0) if m else "https://fly.io/dashboard/personal/billing"


class RateLimited(FlyctlError):
    hint = "Fly.io is rate limiting requests; flytui backs off and retries. Wait a moment."


class FlyctlTimeout(FlyctlError):
    hint = "flyctl did not finish in time and was stopped. Check your network, then retry."


class FlyctlCancelled(FlyctlError):
    hint = "The command was cancelled; flyctl was stopped."


class MachineNeedsForce(FlyctlError):
    hint = "The machine is running: stop it first, or confirm again with --force."


class FlyctlOutputError(FlyctlError):
    """flyctl's output could not be understood (bad JSON, wrong types, missing fields)."""

    hint = "flyctl printed something flytui does not understand. Check `fly version`; flytui expects flyctl >= 0.2."


# --- classification ------------------------------------------------------------------------

_ERROR_LINE = re.compile(r"^Error:?\s*(.*)$", re.MULTILINE)

_RULES: list[tuple[type[FlyctlError], re.Pattern[str]]] = [
    (NotLoggedIn, re.compile(r"no access token available|not logged in|please login|unauthorized|401", re.I)),
    (PaymentRequired, re.compile(r"payment information|payment method|add a credit card|billing", re.I)),
    (RateLimited, re.compile(r"rate limit|too many requests|\b429\b", re.I)),
    (AppNotFound, re.compile(r"could not find app|app name \S+ could not be found|app not found", re.I)),
    (MachineNeedsForce, re.compile(r"either stop first or use --force", re.I)),
]


def error_summary(stderr: str, stdout: str = "") -> str:
    """flyctl's own error sentence: the first ``Error: ...`` line, else the last non-empty line."""
    for text in (stderr, stdout):
        m = _ERROR_LINE.search(text)
        if m and m.group(1).strip():
            return m.group(1).strip()
    for text in (stderr, stdout):
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if lines:
            return lines[-1][:300]
    return ""


def classify(
    argv: Sequence[str], returncode: int | None, stderr: str, stdout: str = ""
) -> FlyctlError:
    """Turn a failed flyctl run into the most specific typed error."""
    summary = error_summary(stderr, stdout)
    text = f"{stderr}\n{stdout if not stderr.strip() else ''}"
    for cls, pattern in _RULES:
        if pattern.search(text):
            return cls(summary or cls.__name__, argv=argv, returncode=returncode, stderr=stderr, stdout=stdout)
    if returncode == 126:
        return FlyctlTimeout(summary or "flyctl timed out", argv=argv, returncode=returncode, stderr=stderr, stdout=stdout)
    msg = summary or f"flyctl exited with code {returncode} and printed nothing"
    return FlyctlError(msg, argv=argv, returncode=returncode, stderr=stderr, stdout=stdout)


__all__ = [
    "FlyError",
    "FlyctlError",
    "FlyctlNotFound",
    "NotLoggedIn",
    "AppNotFound",
    "PaymentRequired",
    "RateLimited",
    "FlyctlTimeout",
    "FlyctlCancelled",
    "MachineNeedsForce",
    "FlyctlOutputError",
    "classify",
    "error_summary",
]
