"""The stages of ``fly deploy`` and the flyctl texts :class:`~flytui.fly.deploy.DeployTracker` recognises.

Patterns are flyctl's own texts (internal/command/deploy @ ad0172f and older generations, see the tracker's
docstring); failures are classified by the error lines they print, each with a hint saying what to do.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from .deploy_status import STATUS_LINE

# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------
PENDING, RUNNING, OK, FAILED, SKIPPED, CANCELLED = "pending", "running", "ok", "failed", "skipped", "cancelled"

#: (id, title) in transcript order
STAGES: tuple[tuple[str, str], ...] = (
    ("config", "Verify app config"),
    ("build", "Build image"),
    ("push", "Push image"),
    ("release", "Release command"),
    ("machines", "Update machines"),
    ("health", "Health checks"),
    ("dns", "DNS check"),
    ("done", "Done"),
)
STAGE_IDS = tuple(s for s, _ in STAGES)


@dataclass
class Stage:
    id: str
    title: str
    status: str = PENDING
    started: float | None = None
    ended: float | None = None
    detail: str = ""
    lines: list[str] = field(default_factory=list)  # output kept for this stage (capped)

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        end = self.ended if self.ended is not None else time.monotonic()
        return max(0.0, end - self.started)

    def keep(self, line: str, cap: int = 400) -> None:
        self.lines.append(line)
        if len(self.lines) > cap:
            del self.lines[: len(self.lines) - cap]


@dataclass(frozen=True)
class DeployFailure:
    kind: str          # payment_required | release_command | health_checks | smoke_checks | build | app_not_found | unknown
    stage: str         # id of the failing stage
    message: str       # flyctl's Error sentence
    lines: tuple[str, ...]  # relevant error lines (release command output, last lines …)
    hint: str
    url: str | None = None     # billing URL for payment_required
    machine: str | None = None  # machine whose checks / command failed


# --------------------------------------------------------------------------------------------
# Patterns (real flyctl texts, see shared/flyctl/README.md "fly deploy")
# --------------------------------------------------------------------------------------------
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MACHINE_ID = _MID = r"([0-9a-f]{8,20})"
RX = {
    "config_start": re.compile(r"^==> Verifying app config"),
    "config_ok": re.compile(r"^--> Verified app config|^✓ Configuration is valid"),
    "build_start": re.compile(r"^==> Building image"),
    "builder": re.compile(r"^==> Building image with (\S+)|^\[remote\]|Remote builder|remote builder|^--> docker host"),
    "build_ok": re.compile(r"^--> Building image done|^--> Build Summary|^Searching for image '.*' (?:remotely|locally)"),
    "image_found": re.compile(r"^image found: "),
    "push_start": re.compile(r"^==> Pushing image to fly"),
    "layer": re.compile(r"^([0-9a-f]{12}): (Preparing|Waiting|Pushing|Pushed|Layer already exists|Mounted from .*)"),
    "push_ok": re.compile(r"^--> Pushing image done"),
    "image": re.compile(r"^image: (\S+)"),
    "image_size": re.compile(r"^image size: (.+)$"),
    "watch": re.compile(r"^Watch your (?:deployment|app) at (\S+)"),
    "release_start": re.compile(r"^Running (\S+) release[_ ]command: (.*)$|^Running (\S+) (\S+)_command: (.*)$"),
    "release_ok": re.compile(r"release_command \S+ completed successfully|^Release command finished"),
    "release_failed": re.compile(r"release[_ ]command failed|^Error release_command failed"),
    "machines_start": re.compile(
        r"^This deployment will:|^Process groups have changed\. This will:|^No machines in group \S+, launching a new machine"
        r"|^Updating existing machines in '([^']+)' with (\S+) strategy|^Creating a new machine|^Launching new machine"
    ),
    # a plan item under "This deployment will:" (only while in that list)
    "plan_item": re.compile(r"^\*"),
    "machine_step": re.compile(r"^\[(\d+)/(\d+)\] (.*)$"),
    "machine_id_group": re.compile(_MID + r" \[([\w-]+)\]"),
    "machine_launch": re.compile(r"^Machine " + _MID + r" \[([\w-]+)\] (.*)$"),
    # first launch ("No machines in group app, launching a new machine"): ids without a [group]
    "launch_group": re.compile(r"^No machines in group ([\w-]+), launching"),
    "machine_plain": re.compile(r"^(?:Waiting for |Machine )" + _MID + r" (?:to have state|update finished|is )"),
    "machines_ok": re.compile(r"^Finished deploying|^Finished launching new machines"),
    # internal/statuslogger non-interactive line: glyph, optional [i/n], text (deploy_status.py)
    "status_line": STATUS_LINE,
    "health": re.compile(r"become healthy|health check|smoke check|is up and running|Checking that", re.I),
    "dns_start": re.compile(r"^Checking DNS configuration for (\S+)"),
    "dns_ok": re.compile(r"^✓ DNS configuration verified|DNS configuration verified"),
    "visit": re.compile(r"^Visit your newly deployed app at (\S+)|^Visit: (\S+)|available in the organizations' private network under (\S+)"),
    "success": re.compile(r"SUCCESS! Your app is live"),
    "error": re.compile(r"^Error[: ]"),
}

_FAILURES: list[tuple[str, re.Pattern[str]]] = [
    ("payment_required", re.compile(r"payment information|add a payment method|add a credit card|buy credit", re.I)),
    ("app_not_found", re.compile(r"could not be found, did you create the app|Could not find App|app not found", re.I)),
    ("release_command", re.compile(r"release[_ ]command failed", re.I)),
    ("smoke_checks", re.compile(r"smoke checks for \S+ failed", re.I)),
    ("health_checks", re.compile(
        r"never reached the state|--wait-timeout|failed to wait for health checks|health checks? .*(fail|critical)"
        r"|timeout reached waiting for health checks|exited with non-zero status", re.I)),
    ("push", re.compile(r"failed to push|error pushing|push refused|denied: requested access", re.I)),
    ("build", re.compile(r"failed to fetch an image or build from source|failed to build|error building|"
                         r"failed to solve|executor failed running|did not complete successfully|Dockerfile", re.I)),
]

_HINTS = {
    "payment_required": "Fly.io needs a payment method for this: add a card at {url}, then deploy again.",
    "app_not_found": "Check `app = …` in fly.toml (or create the app first with `fly apps create`).",
    "release_command": "The release command (usually `alembic upgrade head`) failed and nothing was rolled out. "
                       "Read its output above, fix the migration or DATABASE_URL, then deploy again.",
    "smoke_checks": "The new machine crashed right after starting. Open its logs (`fly logs -i {machine}`) "
                    "to see why (missing env var, wrong port, import error).",
    "health_checks": "The machine did not become healthy. Check its logs (`fly logs -i {machine}`), the "
                     "internal_port in fly.toml vs the port your app listens on, or raise --wait-timeout.",
    "push": "Pushing the image to registry.fly.io failed (network, or the registry refused it). Check "
            "`fly auth docker` and your connection, or let the remote builder push (`--remote-only`), then retry.",
    "build": "The image build failed. Read the builder output, try `--local-only` / `--remote-only`, "
             "and check the Dockerfile.",
    "unknown": "flyctl stopped the deploy; read the last lines above.",
}


def _stage_for_kind(kind: str, reached: str) -> str:
    return {
        "payment_required": reached if reached in ("machines", "release") else "machines",
        "app_not_found": "config",
        "release_command": "release",
        "smoke_checks": "health",
        "health_checks": "health",
        "build": "build",
        "push": "push",
    }.get(kind, reached)


def classify_failure(error_lines: list[str], transcript: list[str], reached: str, stages: dict[str, Stage],
                     pending_machine: str | None, returncode: int | None, tail: list[str]) -> DeployFailure:
    """What failed in a deploy: its kind (by flyctl's error texts), stage, flyctl's message, the lines that
    matter, and a hint (``reached``: the stage running when flyctl stopped)."""
    text = "\n".join(error_lines + transcript[-60:])
    kind = "unknown"
    for k, rx in _FAILURES:
        if rx.search(text):
            kind = k
            break
    if kind == "unknown" and reached == "build":
        kind = "build"
    stage = _stage_for_kind(kind, reached)
    mm = re.search(r"(?:smoke checks for|on machine|machine|fly logs -i) " + MACHINE_ID, text)
    machine = mm.group(1) if mm else pending_machine
    url = None
    if kind == "payment_required":
        um = re.search(r"https://fly\.io/dashboard/\S*billing", text)
        url = um.group(0) if um else "https://fly.io/dashboard/personal/billing"
    message = next((e[len("Error:"):].strip() for e in error_lines if e.startswith("Error:")), "")
    if not message and error_lines:
        message = error_lines[-1]
    if not message:
        message = next((t for t in reversed(transcript) if t.strip()), "") or f"flyctl exited with code {returncode}"
    lines: tuple[str, ...]
    if kind == "release_command":
        lines = tuple(stages["release"].lines[-60:])
    elif kind == "build":
        lines = tuple(stages["build"].lines[-30:]) + tuple(e for e in error_lines if e not in stages["build"].lines)
    else:
        lines = tuple(tail)
    hint = _HINTS[kind].format(url=url or "", machine=machine or "<machine id>")
    return DeployFailure(kind, stage, message, lines, hint, url, machine)
