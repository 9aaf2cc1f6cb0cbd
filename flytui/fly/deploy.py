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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Iterable

from .deploy_options import (
    DeployOptions as DeployOptions,
    BUILDERS as BUILDERS,
    STRATEGIES as STRATEGIES,
    make_options as make_options,
    options_from_fly_toml as options_from_fly_toml,
    parse_build_args as parse_build_args,
)
from .deploy_status import MachineRow, all_indexed_done, apply_status_line
from .deploy_texts import (
    _ANSI,
    CANCELLED as CANCELLED,
    FAILED as FAILED,
    OK as OK,
    PENDING as PENDING,
    RUNNING as RUNNING,
    RX as RX,
    SKIPPED as SKIPPED,
    STAGE_IDS as STAGE_IDS,
    STAGES as STAGES,
    DeployFailure as DeployFailure,
    Stage as Stage,
    classify_failure,
)

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
        """The first rule of :data:`LINE_RULES` whose pattern matches handles the line (True: something changed);
        any other line is plain output kept on the running stage."""
        for rule in LINE_RULES:
            if rule.when is not None and not rule.when(self):
                continue
            m = rule.pattern.search(s) if rule.search else rule.pattern.match(s)
            if m is not None:
                rule.on(self, m, s)
                return True
        if self._current:  # plain output: builder lines, release command output …
            self.stages[self._current].keep(s)
        if RX["health"].search(s) and self._current in ("machines", "health"):
            self._health_running()
        return False

    # -- line handlers (one per rule) ------------------------------------------------------------
    def _on_error(self, m: re.Match[str], s: str) -> None:
        self.error_lines.append(s)
        if self._current:
            self.stages[self._current].keep(s)
        if RX["release_failed"].search(s) and not self.reached("release"):
            self._start("release")

    def _on_config_ok(self, m: re.Match[str], s: str) -> None:
        if s.startswith("-->"):
            self._ok("config")
        else:
            self.stages["config"].keep(s)

    def _on_builder(self, m: re.Match[str], s: str) -> None:
        if not self.reached("build"):
            self._start("build")
        if m.group(1):
            self.builder = m.group(1)
            self.stages["build"].detail = f"with {self.builder}"
        self.stages["build"].keep(s)

    def _on_layer(self, m: re.Match[str], s: str) -> None:
        if not self.reached("push"):
            self._start("push")
        self.layers[m.group(1)] = m.group(2)
        done, total = self.push_progress
        self.stages["push"].detail = f"{done}/{total} layers"

    def _on_image(self, m: re.Match[str], s: str) -> None:
        self.image = m.group(1)
        if self.stages["push"].status == RUNNING:
            self._ok("push")
        self.stages["push"].detail = self.image

    def _on_image_size(self, m: re.Match[str], s: str) -> None:
        self.image_size = m.group(1).strip()
        self.stages["push"].detail = f"{self.image or ''} ({self.image_size})".strip()

    def _on_watch(self, m: re.Match[str], s: str) -> None:
        self.monitor_url = m.group(1)

    def _on_release_start(self, m: re.Match[str], s: str) -> None:
        self.release_command = (m.group(2) or m.group(5) or "").strip()
        self._start("release", self.release_command)

    def _on_release_ok(self, m: re.Match[str], s: str) -> None:
        self.stages["release"].keep(s)
        self._ok("release")

    def _on_machines_start(self, m: re.Match[str], s: str) -> None:
        st = self._start("machines")
        if m.group(2):
            self.strategy = m.group(2)
            st.detail = f"{self.strategy} strategy"
        if s.endswith("will:"):
            self._in_plan = True
        st.keep(s)

    def _on_plan_item(self, m: re.Match[str], s: str) -> None:
        self.plan.append(s.lstrip("* ").strip())
        self.stages["machines"].keep(s)

    def _on_status_line(self, m: re.Match[str], s: str) -> None:
        self._status_line(m.group("glyph"), m.group("i"), m.group("n"), m.group("text"))

    def _on_machine_step(self, m: re.Match[str], s: str) -> None:
        self._machine_step(int(m.group(1)), int(m.group(2)), m.group(3))

    def _on_machine_launch(self, m: re.Match[str], s: str) -> None:
        self._machine_row(m.group(1), m.group(2), s)

    def _on_launch_group(self, m: re.Match[str], s: str) -> None:
        self._launch_group = m.group(1)
        self.stages["machines"].keep(s)

    def _on_machine_plain(self, m: re.Match[str], s: str) -> None:
        self._machine_row(m.group(1), self._launch_group, s)

    def _on_machines_ok(self, m: re.Match[str], s: str) -> None:
        self._ok("machines")
        for row in self.machines.values():
            if row.state not in ("failed",):
                row.state = "done"
        if self.stages["health"].status == RUNNING:
            self._ok("health")

    def _on_visit(self, m: re.Match[str], s: str) -> None:
        self.url = next(g for g in m.groups() if g)
        self._ok("done", self.url)

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
        pending = next(iter(r.id for r in self.machines.values() if r.state != "done"), None)
        return classify_failure(self.error_lines, self.transcript, self._current or "config", self.stages,
                                pending, self.returncode, self._relevant_tail())

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


@dataclass(frozen=True)
class LineRule:
    """One kind of flyctl line: ``pattern`` (``re.match``, or ``re.search`` when ``search``), tried only while
    ``when(tracker)`` holds, handled by ``on(tracker, match, line)``."""

    pattern: re.Pattern[str]
    on: Callable[[DeployTracker, re.Match[str], str], object]
    search: bool = False
    when: Callable[[DeployTracker], bool] | None = None


def _start(sid: str) -> Callable[[DeployTracker, re.Match[str], str], object]:
    return lambda t, m, s: t._start(sid)


def _ok(sid: str) -> Callable[[DeployTracker, re.Match[str], str], object]:
    return lambda t, m, s: t._ok(sid)


#: flyctl's deploy lines in the order they are tried (the first match wins; order matters where texts overlap,
#: e.g. the builder lines before "==> Building image", status-logger lines before the older "[i/n]" steps)
LINE_RULES: tuple[LineRule, ...] = (
    LineRule(RX["error"], DeployTracker._on_error),
    LineRule(RX["config_start"], _start("config")),
    LineRule(RX["config_ok"], DeployTracker._on_config_ok),
    LineRule(RX["push_start"], _start("push")),
    LineRule(RX["builder"], DeployTracker._on_builder, when=lambda t: t._current in (None, "config", "build")),
    LineRule(RX["build_start"], _start("build")),
    LineRule(RX["build_ok"], _ok("build")),
    LineRule(RX["image_found"], _ok("build")),
    LineRule(RX["layer"], DeployTracker._on_layer),
    LineRule(RX["push_ok"], _ok("push")),
    LineRule(RX["image"], DeployTracker._on_image),
    LineRule(RX["image_size"], DeployTracker._on_image_size),
    LineRule(RX["watch"], DeployTracker._on_watch),
    LineRule(RX["release_start"], DeployTracker._on_release_start),
    LineRule(RX["release_ok"], DeployTracker._on_release_ok, search=True),
    LineRule(RX["machines_start"], DeployTracker._on_machines_start),
    LineRule(RX["plan_item"], DeployTracker._on_plan_item, when=lambda t: t._in_plan),
    LineRule(RX["status_line"], DeployTracker._on_status_line),
    LineRule(RX["machine_step"], DeployTracker._on_machine_step),
    LineRule(RX["machine_launch"], DeployTracker._on_machine_launch),
    LineRule(RX["launch_group"], DeployTracker._on_launch_group),
    LineRule(RX["machine_plain"], DeployTracker._on_machine_plain),
    LineRule(RX["machines_ok"], DeployTracker._on_machines_ok),
    LineRule(RX["dns_start"], lambda t, m, s: t._start("dns", m.group(1))),
    LineRule(RX["dns_ok"], _ok("dns"), search=True),
    LineRule(RX["visit"], DeployTracker._on_visit, search=True),
    LineRule(RX["success"], _ok("done"), search=True),
)
