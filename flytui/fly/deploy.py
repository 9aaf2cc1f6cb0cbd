"""``fly deploy``: options → argv, and a state machine that follows the transcript.

:class:`DeployTracker` is fed the runner's ``StreamLine`` s (stdout and stderr merged in order) and keeps
stages (verify config, build, push, release command, machines, health checks, DNS, done) with status and
timings, push progress, per-machine rows, the URLs flyctl prints, and — when flyctl fails — a
:class:`DeployFailure` (failing stage, relevant error lines, a hint). It recognises the texts of real
flyctl from v0.1.x to current: both ``Watch your app at`` / ``Watch your deployment at``, first deploys
(``This deployment will:``, ``No machines in group app, launching a new machine``), the boxed
``SUCCESS!`` banner and ``Visit your newly deployed app at URL``. Unknown lines are kept in the transcript
and never break it. No UI imports here.

Machine progress comes in three generations (flyctl source, superfly/flyctl):

* before v0.1.104: ``  [1/2] Updating ID [app]`` … ``  [1/2] Machine ID [app] update finished: success`` on
  stderr (internal/command/deploy/machines_deploymachinesapp.go @ v0.1.103);
* v0.1.104+ (9ae660e52 "async statuslogger"): internal/statuslogger. flytui runs flyctl without a TTY, so the
  *non-interactive* logger prints one stdout line per update: ``<glyph> [i/n] text`` with glyph ``>`` running,
  ``✔`` success, ``✖`` failure (``[i/n]`` only when n > 1, zero-padded to n's width; noninteractive.go,
  shared.go @ ad0172f). Rolling updates end with ``✔ [1/2] Machine ID [app] update succeeded`` since v0.1.112
  (``update finished: success`` before; first launches still print that one);
* ``--deploy-retries`` (v0.2.94+, default ``auto`` = a feature flag; internal/command/deploy/plan.go):
  ``> Acquiring lease for ID``, ``> Updating machine config for ID``, ``✔ Machine ID is now in a good state``,
  failures as ``✖ [i/n] <error text>`` (the row is found by its ``[i/n]``), then ``Clearing lease`` lines.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .client import DeployOptions
from .deploy_status import STATUS_LINE, MachineRow, all_indexed_done, apply_status_line

# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------
STRATEGIES: tuple[str, ...] = ("rolling", "immediate", "bluegreen", "canary")
BUILDERS: tuple[str, ...] = ("auto", "local-only", "remote-only")


def make_options(
    builder: str = "auto",
    *,
    ha: bool | None = None,
    strategy: str | None = None,
    image: str | None = None,
    build_args: dict[str, str] | None = None,
    wait_timeout: str | None = None,
    cwd: str | None = None,
) -> DeployOptions:
    """The deploy form's choices → the client's :class:`DeployOptions` (validated; ValueError when wrong)."""
    if builder not in BUILDERS:
        raise ValueError(f"unknown builder {builder!r}; expected one of {', '.join(BUILDERS)}")
    if strategy and strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    return DeployOptions(
        local_only=builder == "local-only",
        remote_only=builder == "remote-only",
        ha=ha,
        strategy=strategy or None,
        image=image or None,
        build_args=dict(build_args or {}),
        wait_timeout=wait_timeout or None,
        cwd=cwd,
    )


def parse_build_args(text: str) -> dict[str, str]:
    """``"A=1 B=two"`` (spaces or commas) → ``{"A": "1", "B": "two"}``; ValueError on a bad pair."""
    pairs: dict[str, str] = {}
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"build argument {item!r} is not NAME=VALUE")
        pairs[name] = value
    return pairs


def options_from_fly_toml(project_dir: Path | str | None) -> DeployOptions:
    """Defaults from ``fly.toml`` (``[deploy] strategy``, ``[build] image``, ``[build.args]``); tomlkit is lazy.

    ``cwd`` is the project folder, so flyctl finds fly.toml and the Dockerfile there.
    """
    if project_dir is None:
        return DeployOptions()
    path = Path(project_dir)
    if path.is_dir():
        path = path / "fly.toml"
    if not path.is_file():
        return DeployOptions(cwd=str(path.parent) if path.parent.is_dir() else None)
    import tomlkit  # lazy: not needed for first paint
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()
    except (TOMLKitError, OSError, UnicodeDecodeError):  # a broken fly.toml: flyctl's "Verifying app config" says
        return DeployOptions(cwd=str(path.parent))
    deploy: dict[str, Any] = doc["deploy"] if isinstance(doc.get("deploy"), dict) else {}
    build: dict[str, Any] = doc["build"] if isinstance(doc.get("build"), dict) else {}
    strategy = deploy.get("strategy")
    args: dict[str, Any] = build["args"] if isinstance(build.get("args"), dict) else {}
    wait = deploy.get("wait_timeout")
    return DeployOptions(
        strategy=strategy if strategy in STRATEGIES else None,
        image=build.get("image") or None,
        build_args={str(k): str(v) for k, v in args.items()},
        wait_timeout=str(wait) if wait else None,
        cwd=str(path.parent),
    )


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
_MID = r"([0-9a-f]{8,20})"
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


# --------------------------------------------------------------------------------------------
# Tracker
# --------------------------------------------------------------------------------------------
class DeployTracker:
    """Follows one ``fly deploy`` run. Feed it lines; read ``stages``, ``machines``, ``failure`` …"""

    TRANSCRIPT_CAP = 20_000

    def __init__(self, app: str | None = None, clock: Any = time.monotonic) -> None:
        self.app = app
        self._clock = clock
        self.stages: dict[str, Stage] = {sid: Stage(sid, title) for sid, title in STAGES}
        self.machines: dict[str, MachineRow] = {}
        self.transcript: list[str] = []
        self.layers: dict[str, str] = {}
        self.image: str | None = None
        self.image_size: str | None = None
        self.builder: str | None = None
        self.monitor_url: str | None = None
        self.url: str | None = None
        self.strategy: str | None = None
        self.plan: list[str] = []
        self.release_command: str | None = None
        self.error_lines: list[str] = []
        self.failure: DeployFailure | None = None
        self.returncode: int | None = None
        self.finished = False
        self.cancelled = False
        self._current: str | None = None
        self._in_plan = False
        self._launch_group = "app"  # group named by "No machines in group G, launching a new machine"
        self._by_index: dict[int, str] = {}  # status-logger line [i/n] -> machine id

    # -- queries ---------------------------------------------------------------------------
    @property
    def current(self) -> str | None:
        """Id of the running stage (or the last one reached)."""
        return self._current

    @property
    def push_progress(self) -> tuple[int, int]:
        """(layers pushed or already present, layers seen)."""
        done = sum(1 for st in self.layers.values() if st in ("Pushed", "Layer already exists") or st.startswith("Mounted"))
        return done, len(self.layers)

    @property
    def succeeded(self) -> bool:
        return self.finished and self.failure is None and not self.cancelled and self.returncode == 0

    def stage_list(self) -> list[Stage]:
        return [self.stages[s] for s in STAGE_IDS]

    def reached(self, stage_id: str) -> bool:
        return self.stages[stage_id].status not in (PENDING, SKIPPED)

    # -- transitions -----------------------------------------------------------------------
    def _start(self, sid: str, detail: str | None = None) -> Stage:
        now = self._clock()
        order = STAGE_IDS.index(sid)
        for prev in STAGE_IDS[:order]:
            st = self.stages[prev]
            if st.status == RUNNING:
                st.status, st.ended = OK, now
            elif st.status == PENDING and prev not in ("health",):
                st.status = SKIPPED
        st = self.stages[sid]
        if st.status in (PENDING, SKIPPED):
            st.status, st.started = RUNNING, now
        if detail:
            st.detail = detail
        self._current = sid
        return st

    def _ok(self, sid: str, detail: str | None = None) -> None:
        st = self.stages[sid]
        if st.status in (PENDING, SKIPPED):
            self._start(sid)
        if st.status == RUNNING:
            st.status, st.ended = OK, self._clock()
        if detail:
            st.detail = detail

    # -- feeding ---------------------------------------------------------------------------
    def feed(self, lines: Iterable[Any]) -> bool:
        """Feed ``StreamLine`` s (or plain strings). Returns True when something changed."""
        changed = False
        for ln in lines:
            text = ln if isinstance(ln, str) else ln.text
            changed = self.feed_line(text) or changed
        return changed

    def feed_line(self, raw: str) -> bool:
        """One line of output. Never raises on unknown text."""
        text = _ANSI.sub("", raw).rstrip("\r\n")
        self.transcript.append(text)
        if len(self.transcript) > self.TRANSCRIPT_CAP:
            del self.transcript[: len(self.transcript) - self.TRANSCRIPT_CAP]
        s = text.strip().strip("│|").strip()
        if not s:
            self._in_plan = False
            return False
        try:
            return self._dispatch(s)
        except Exception:  # noqa: BLE001 - defensive: one odd flyctl line must never end the tracking of a deploy
            return False

    def _dispatch(self, s: str) -> bool:
        m = None
        if RX["error"].match(s):
            self.error_lines.append(s)
            if self._current:
                self.stages[self._current].keep(s)
            if RX["release_failed"].search(s) and not self.reached("release"):
                self._start("release")
            return True
        if RX["config_start"].match(s):
            self._start("config")
        elif RX["config_ok"].match(s):
            if s.startswith("-->"):
                self._ok("config")
            else:
                self.stages["config"].keep(s)
        elif RX["push_start"].match(s):
            self._start("push")
        elif (m := RX["builder"].match(s)) and self._current in (None, "config", "build"):
            if not self.reached("build"):
                self._start("build")
            if m.group(1):
                self.builder = m.group(1)
                self.stages["build"].detail = f"with {self.builder}"
            self.stages["build"].keep(s)
        elif RX["build_start"].match(s):
            self._start("build")
        elif RX["build_ok"].match(s) or RX["image_found"].match(s):
            self._ok("build")
        elif m := RX["layer"].match(s):
            if not self.reached("push"):
                self._start("push")
            self.layers[m.group(1)] = m.group(2)
            done, total = self.push_progress
            self.stages["push"].detail = f"{done}/{total} layers"
        elif RX["push_ok"].match(s):
            self._ok("push")
        elif m := RX["image"].match(s):
            self.image = m.group(1)
            if self.stages["push"].status == RUNNING:
                self._ok("push")
            self.stages["push"].detail = self.image
        elif m := RX["image_size"].match(s):
            self.image_size = m.group(1).strip()
            self.stages["push"].detail = f"{self.image or ''} ({self.image_size})".strip()
        elif m := RX["watch"].match(s):
            self.monitor_url = m.group(1)
        elif m := RX["release_start"].match(s):
            self.release_command = (m.group(2) or m.group(5) or "").strip()
            self._start("release", self.release_command)
        elif RX["release_ok"].search(s):
            self.stages["release"].keep(s)
            self._ok("release")
        elif m := RX["machines_start"].match(s):
            st = self._start("machines")
            if m.group(2):
                self.strategy = m.group(2)
                st.detail = f"{self.strategy} strategy"
            if s.endswith("will:"):
                self._in_plan = True
            st.keep(s)
        elif self._in_plan and s.startswith("*"):
            self.plan.append(s.lstrip("* ").strip())
            self.stages["machines"].keep(s)
        elif m := RX["status_line"].match(s):
            self._status_line(m.group("glyph"), m.group("i"), m.group("n"), m.group("text"))
        elif m := RX["machine_step"].match(s):
            self._machine_step(int(m.group(1)), int(m.group(2)), m.group(3))
        elif m := RX["machine_launch"].match(s):
            self._machine_row(m.group(1), m.group(2), s)
        elif m := RX["launch_group"].match(s):
            self._launch_group = m.group(1)
            self.stages["machines"].keep(s)
        elif m := RX["machine_plain"].match(s):
            self._machine_row(m.group(1), self._launch_group, s)
        elif RX["machines_ok"].match(s):
            self._ok("machines")
            for row in self.machines.values():
                if row.state not in ("failed",):
                    row.state = "done"
            if self.stages["health"].status == RUNNING:
                self._ok("health")
        elif m := RX["dns_start"].match(s):
            self._start("dns", m.group(1))
        elif RX["dns_ok"].search(s):
            self._ok("dns")
        elif m := RX["visit"].search(s):
            self.url = next(g for g in m.groups() if g)
            self._ok("done", self.url)
        elif RX["success"].search(s):
            self._ok("done")
        else:
            # plain output: keep it on the running stage (builder lines, release command output …)
            if self._current:
                self.stages[self._current].keep(s)
            if RX["health"].search(s) and self._current in ("machines", "health"):
                self._health_running()
            return False
        return True

    def _health_running(self) -> None:
        st = self.stages["health"]
        if st.status in (PENDING, SKIPPED):
            st.status, st.started = RUNNING, self._clock()

    def _machine_row(self, mid: str, group: str, step: str) -> MachineRow:
        row = self.machines.get(mid)
        if row is None:
            row = self.machines[mid] = MachineRow(mid, group)
        row.group = group
        row.step = step
        low = step.lower()
        if "update finished: success" in low:
            row.state = "done"
        elif "fail" in low:
            row.state = "failed"
        elif "become healthy" in low or "up and running" in low or "checking that" in low:
            row.state = "checking"
            self._health_running()
        elif "has state: started" in low:
            row.state = "started"
        else:
            row.state = "updating"
        if not self.reached("machines"):
            self._start("machines")
        self.stages["machines"].detail = self._machines_detail()
        return row

    def _status_line(self, glyph: str, i: str | None, n: str | None, text: str) -> None:
        """One internal/statuslogger line (``>`` running, ``✔`` success, ``✖`` failure): see deploy_status.py."""
        in_release = self._current == "release" and not self.reached("machines") and text != "Launching new machine"
        if "release_command" in text or in_release:
            # machines_releasecommand.go: "> Created release_command machine ID", "> Waiting for ID to have state:
            # started", "✔ release_command ID completed successfully", "✖ release_command failed", "✖ Failed: …"
            sid = "release" if self.reached("release") else (self._current or "release")
            self.stages[sid].keep(text)
            return
        row = apply_status_line(self.machines, self._by_index, self._launch_group, glyph, i, n, text)
        if not self.reached("machines"):
            self._start("machines")
        self.stages["machines"].keep(text)
        if row is None:  # "> Launching new machine", v0.1.104's bare "> [1/2] Updating"
            return
        if row.state == "checking":
            self._health_running()
        self.stages["machines"].detail = self._machines_detail()
        if all_indexed_done(self.machines):
            self._ok("machines")
            if self.stages["health"].status == RUNNING:
                self._ok("health")

    def _machine_step(self, i: int, n: int, step: str) -> None:
        m = RX["machine_id_group"].search(step)
        if not m:
            self.stages["machines"].keep(step)
            return
        row = self._machine_row(m.group(1), m.group(2), step)
        row.index, row.total = i, n

    def _machines_detail(self) -> str:
        done = sum(1 for r in self.machines.values() if r.state == "done")
        return f"{done}/{len(self.machines)} machines updated"

    # -- end -------------------------------------------------------------------------------
    def finish(self, returncode: int | None) -> None:
        """flyctl exited: close stages and classify a failure."""
        self.returncode = returncode
        self.finished = True
        now = self._clock()
        if returncode == 0 and not self.error_lines_fatal():
            if self.stages["health"].status == RUNNING:
                self._ok("health")
            for sid in STAGE_IDS:
                st = self.stages[sid]
                if st.status == RUNNING:
                    st.status, st.ended = OK, now
                elif st.status == PENDING:
                    st.status = SKIPPED
            if self.stages["done"].status != OK:
                self._ok("done")
            return
        self.failure = self.classify()
        fail = self.stages[self.failure.stage]
        if fail.started is None:
            fail.started = now
        fail.status, fail.ended = FAILED, now
        if fail.id in ("health", "machines"):
            for row in self.machines.values():
                if row.state not in ("done",) and (self.failure.machine in (None, row.id)):
                    row.state = "failed"
        unfinished = any(row.state != "done" for row in self.machines.values())
        for sid in STAGE_IDS:
            st = self.stages[sid]
            if st is fail:
                continue
            if st.status == RUNNING:
                if sid == "machines" and unfinished:  # the update did not finish on every machine
                    st.status, st.ended = FAILED, now
                elif STAGE_IDS.index(sid) < STAGE_IDS.index(fail.id):
                    st.status, st.ended = OK, now
                else:
                    st.status, st.ended = SKIPPED, now
            elif st.status == PENDING:
                st.status = SKIPPED

    def error_lines_fatal(self) -> bool:
        """flyctl exits 0 on some errors (GraphQL UNCHANGED); only a release failure counts then."""
        return any(RX["release_failed"].search(e) for e in self.error_lines)

    def classify(self) -> DeployFailure:
        """Failing stage + error lines + hint, from the error lines and the stage reached."""
        text = "\n".join(self.error_lines + self.transcript[-60:])
        kind = "unknown"
        for k, rx in _FAILURES:
            if rx.search(text):
                kind = k
                break
        reached = self._current or "config"
        if kind == "unknown" and reached == "build":
            kind = "build"
        stage = _stage_for_kind(kind, reached)
        machine = None
        mm = re.search(r"(?:smoke checks for|on machine|machine|fly logs -i) " + _MID, text)
        if mm:
            machine = mm.group(1)
        elif self.machines:
            machine = next(iter(r.id for r in self.machines.values() if r.state != "done"), None)
        url = None
        if kind == "payment_required":
            um = re.search(r"https://fly\.io/dashboard/\S*billing", text)
            url = um.group(0) if um else "https://fly.io/dashboard/personal/billing"
        message = ""
        for e in self.error_lines:
            if e.startswith("Error:"):
                message = e[len("Error:"):].strip()
                break
        if not message and self.error_lines:
            message = self.error_lines[-1]
        if not message:
            message = next((t for t in reversed(self.transcript) if t.strip()), "") or (
                f"flyctl exited with code {self.returncode}")
        if kind == "release_command":
            lines = tuple(self.stages["release"].lines[-60:])
        elif kind == "build":
            lines = tuple(self.stages["build"].lines[-30:]) + tuple(
                e for e in self.error_lines if e not in self.stages["build"].lines)
        else:
            lines = tuple(self._relevant_tail())
        hint = _HINTS[kind].format(url=url or "", machine=machine or "<machine id>")
        return DeployFailure(kind, stage, message, lines, hint, url, machine)

    def _relevant_tail(self, n: int = 25) -> list[str]:
        tail = [t for t in self.transcript if t.strip()]
        for i, t in enumerate(tail):
            if t.lstrip().startswith("Error"):
                return tail[max(0, i - 5): i + n]
        return tail[-n:]

    def cancel(self) -> None:
        """The user cancelled: the running stage becomes ``cancelled``, later ones ``skipped``."""
        self.cancelled = True
        self.finished = True
        now = self._clock()
        for st in self.stage_list():
            if st.status == RUNNING:
                st.status, st.ended = CANCELLED, now
            elif st.status == PENDING:
                st.status = SKIPPED

    def deployed_state(self) -> str:
        """What may already be live, based on the stage reached (shown after cancel or failure)."""
        st = self.stages
        if st["done"].status == OK or st["dns"].status in (OK, RUNNING, CANCELLED, FAILED):
            return "The new release is deployed: every machine runs the new image (only the final checks were interrupted)."
        if self.reached("machines") or self.reached("health"):
            done = sum(1 for r in self.machines.values() if r.state == "done")
            total = len(self.machines)
            where = f" ({done} of {total} machines finished updating)" if total else ""
            return ("Partly deployed: a new release exists and some machines may already run the new image"
                    f"{where}. Run `fly status` to check, and deploy again or roll back.")
        if self.reached("release"):
            return ("The release command had started: database migrations may have run (fully or partly). "
                    "No machine was updated; the previous version is still serving.")
        if self.reached("push") and (st["push"].status == OK or self.image):
            return ("The image was pushed to registry.fly.io but no machine was updated: "
                    "the previous version is still serving.")
        if self.reached("build") or self.reached("push"):
            return "Nothing was deployed: the image was not pushed. The previous version is still serving."
        return "Nothing was deployed."


__all__ = [
    "DeployOptions",
    "DeployTracker",
    "DeployFailure",
    "MachineRow",
    "Stage",
    "STAGES",
    "STAGE_IDS",
    "STRATEGIES",
    "BUILDERS",
    "make_options",
    "PENDING",
    "RUNNING",
    "OK",
    "FAILED",
    "SKIPPED",
    "CANCELLED",
    "options_from_fly_toml",
    "parse_build_args",
]
