"""Deploy the project folder: a small form, then ``fly deploy`` followed stage by stage.

The worker streams the FlyProcess in batches into a :class:`DeployTracker` (one message per batch);
the screen shows stages (spinner/✓/✗ + durations), push progress, one row per machine, the raw
transcript (``t``), a failure panel (failing stage, error lines, hint), and after success the URL with
an httpx probe of ``/`` and ``/docs``. Cancel (``x`` / ``ctrl+c``, confirmed) kills flyctl's process
group and says what may already be deployed.

``DeployScreen(app, project_dir, image=IMG, auto_start=True)`` is a rollback: the caller already confirmed
``fly deploy -a APP --yes --image IMG`` (:func:`redeploy_options`), so the screen runs exactly that at once.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import events, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, Log, ProgressBar, Select, Static, Switch
from textual.widgets.data_table import ColumnKey

from flytui.ui import commands
from flytui.ui.widgets.plain import PlainDataTable
from flytui.fly.client import DeployOptions
from flytui.fly.deploy import (
    BUILDERS, CANCELLED, FAILED, OK, PENDING, RUNNING, SKIPPED, STRATEGIES, DeployTracker, make_options,
    options_from_fly_toml, parse_build_args,
)
from flytui.ui.seams import Hosted

_ICON = {PENDING: "·", RUNNING: "◐", OK: "✓", FAILED: "✗", SKIPPED: "–", CANCELLED: "■"}
_SPIN = "◐◓◑◒"


def redeploy_options(image: str, project_dir: Path | None) -> DeployOptions:
    """The options of a redeploy of an existing ``image`` (rollback): ``deploy -a APP --yes --image IMAGE``,
    run in the project folder (flyctl reads fly.toml there). The confirmation shows ``.argv(app)`` of these."""
    cwd = options_from_fly_toml(project_dir).cwd if project_dir else None
    return DeployOptions(image=image, cwd=cwd)


def push_label(done: int, total: int, status: str = PENDING) -> str:
    """The push bar's label: ``layers pushed / total`` (``waiting for layers`` before the first one); without
    layer lines (``--image``, a remote builder's push) it follows the push stage: done / not needed / failed."""
    if total:
        return f"push: {done}/{total} layers"
    return {OK: "push: done", SKIPPED: "push: not needed (no image built)", FAILED: "push: failed",
            CANCELLED: "push: cancelled"}.get(status, "push: waiting for layers")


def _fmt_duration(d: float | None) -> str:
    if d is None:
        return ""
    return f"{d:.1f}s" if d < 60 else f"{int(d // 60)}m{int(d % 60):02d}s"


class DeployScreen(Screen[None], Hosted):
    """``DeployScreen(app_name, project_dir, image=None, auto_start=False)``.

    ``image``: prefill the form's image (no build). ``auto_start`` with ``image``: run the redeploy of that
    image at once (:func:`redeploy_options`, already confirmed by the caller) and show its progress.
    """

    BINDINGS = [
        *commands.local_bindings([commands.SCREEN]),
        *(replace(b, show=True) for b in commands.bindings([commands.DEPLOY])),
        *commands.local_bindings([commands.DEPLOY]),
    ]

    class Progress(Message):
        """A batch of flyctl output was fed to the tracker (one message per batch)."""

        def __init__(self, lines: list[str]) -> None:
            super().__init__()
            self.lines = lines

    class Finished(Message):
        def __init__(self, returncode: int | None, cancelled: bool = False) -> None:
            super().__init__()
            self.returncode = returncode
            self.cancelled = cancelled

    class Probed(Message):
        def __init__(self, results: list[str]) -> None:
            super().__init__()
            self.results = results

    def __init__(self, app_name: str, project_dir: Path | None, *, image: str | None = None,
                 auto_start: bool = False, options: DeployOptions | None = None) -> None:
        super().__init__()
        self.app_name = app_name
        self.project_dir = Path(project_dir) if project_dir else None
        self.defaults = options_from_fly_toml(self.project_dir)
        if image:
            self.defaults = replace(self.defaults, image=image)
        self.image = image
        self.auto_start = auto_start and bool(image)
        #: with ``auto_start``: the options the caller's confirmation showed, run as they are
        self.confirmed = options
        self.tracker: DeployTracker | None = None
        self.options: DeployOptions | None = None  # of the running / last deploy
        self.process: Any = None
        self.running = False
        self.probe_results: list[str] = []
        self._tick = 0
        self._asking_cancel = False

    # -- compose ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        d = self.defaults
        yield Static(f"Deploy · {self.app_name}" + (f" · {self.project_dir}" if self.project_dir else ""),
                     id="deploy-title", markup=False)
        with Vertical(id="deploy-form"):
            with Horizontal(classes="deploy-row"):
                yield Label("Builder")
                yield Select([(b, b) for b in BUILDERS], value="auto", allow_blank=False, id="deploy-builder")
                yield Label("Strategy")
                yield Select([(s, s) for s in STRATEGIES], value=d.strategy or "rolling", allow_blank=False,
                             id="deploy-strategy")
                yield Label("--ha")
                yield Switch(value=d.ha if d.ha is not None else True, id="deploy-ha")
            with Horizontal(classes="deploy-row"):
                yield Label("Image")
                yield Input(value=d.image or "", placeholder="(build from Dockerfile)", id="deploy-image")
                yield Label("Build args")
                yield Input(value=" ".join(f"{k}={v}" for k, v in d.build_args.items()),
                            placeholder="NAME=VALUE …", id="deploy-build-args")
                yield Button("Deploy (d)", id="deploy-go", variant="primary")
        yield Static("", id="deploy-summary", markup=False)
        yield PlainDataTable(id="deploy-stages", cursor_type="row")
        with Horizontal(id="deploy-push-row"):
            yield Static(push_label(0, 0), id="deploy-push-label", markup=False)
            yield ProgressBar(total=1, show_eta=False, id="deploy-push")
        yield PlainDataTable(id="deploy-machines", cursor_type="row")
        yield Static("", id="deploy-result", markup=False)
        yield Log(id="deploy-transcript", max_lines=20_000)
        yield Footer()

    def on_mount(self) -> None:
        stages = self.query_one("#deploy-stages", DataTable)
        stages.add_column("", key="icon", width=2)
        stages.add_column("Stage", key="stage", width=18)
        stages.add_column("Detail", key="detail", width=60)
        stages.add_column("Time", key="time", width=8)
        machines = self.query_one("#deploy-machines", DataTable)
        machines.add_column("Machine", key="id", width=16)
        machines.add_column("Group", key="group", width=8)
        machines.add_column("State", key="state", width=10)
        machines.add_column("Step", key="step", width=70)
        self._fit_columns(self.app.size.width)
        self.query_one("#deploy-transcript").display = False
        self.query_one("#deploy-push-row").display = False
        self.query_one("#deploy-go", Button).focus()  # enter (or d) starts the deploy
        if self.auto_start and self.image:
            self.start_with(self.confirmed or redeploy_options(self.image, self.project_dir))

    #: (table, flexible column, its widest, fixed columns): the flexible one takes what the terminal leaves
    FLEX_COLUMNS = (("#deploy-stages", "detail", 60, ("icon", "stage", "time")),
                    ("#deploy-machines", "step", 70, ("id", "group", "state")))

    def on_resize(self, event: events.Resize) -> None:
        self._fit_columns(event.size.width)

    def _fit_columns(self, width: int) -> None:
        """Give the Detail / Step columns what the terminal leaves, so Time stays in view at 80 columns."""
        for table_id, flex, widest, fixed in self.FLEX_COLUMNS:
            table = self.query_one(table_id, DataTable)
            cols = table.columns
            used = sum(cols[ColumnKey(k)].width for k in fixed) + 2 * table.cell_padding * len(cols) + 2  # + scrollbar
            new = max(16, min(widest, width - used))
            column = cols[ColumnKey(flex)]
            if column.width != new:
                column.width = new
                table._clear_caches()  # noqa: SLF001 - DataTable has no public "column width changed"
                table._require_update_dimensions = True  # noqa: SLF001
                table.refresh()

    # -- form → options --------------------------------------------------------------------
    def form_options(self) -> Any:
        """The client's DeployOptions from the form (ValueError on bad input)."""
        builder = str(self.query_one("#deploy-builder", Select).value)
        strategy = str(self.query_one("#deploy-strategy", Select).value)
        ha = self.query_one("#deploy-ha", Switch).value
        image = self.query_one("#deploy-image", Input).value.strip()
        build_args = parse_build_args(self.query_one("#deploy-build-args", Input).value)
        return make_options(builder, ha=None if ha else False, strategy=strategy, image=image or None,
                            build_args=build_args, wait_timeout=self.defaults.wait_timeout,
                            cwd=str(self.project_dir) if self.project_dir else None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "deploy-go":
            self.action_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in ("deploy-image", "deploy-build-args"):
            self.action_start()

    def action_start(self) -> None:
        if self.running:
            return
        try:
            options = self.form_options()
        except ValueError as exc:
            self.notify(str(exc), title="deploy", severity="error")
            return
        self.start_with(options)

    def start_with(self, options: DeployOptions) -> None:
        """Start ``fly deploy`` with ``options`` (refused in read-only mode) and show its progress."""
        if self.running:
            return
        if not self.host.guard_mutation("deploy"):
            return
        self.options = options
        self.tracker = DeployTracker(self.app_name)
        self.probe_results = []
        self.query_one("#deploy-transcript", Log).clear()
        self.query_one("#deploy-result", Static).update("")
        self.query_one("#deploy-machines", DataTable).clear()
        self.query_one("#deploy-form").display = False
        self.query_one("#deploy-push-row").display = True
        self.query_one("#deploy-stages", DataTable).focus()  # never leave the focus in a hidden form field
        self.running = True
        self._render_stages()
        self.set_interval(0.25, self._spin, name="deploy-spinner")
        self.run_deploy(options)

    @work(exclusive=True, group="deploy", exit_on_error=False)
    async def run_deploy(self, options: Any) -> None:
        """Run ``fly deploy`` and feed the tracker batch by batch."""
        rc: int | None = None
        try:
            async with self.host.client.deploy(self.app_name, options) as proc:
                self.process = proc
                async for batch in proc.batches():
                    assert self.tracker is not None
                    self.tracker.feed(batch)
                    self.post_message(self.Progress([ln.text for ln in batch]))
                rc = await proc.wait()
        except Exception as exc:  # noqa: BLE001 - shown via the one error handler
            self.post_message(self.Finished(None))
            self.host.report_error(exc, "deploy")
            return
        finally:
            self.process = None
        self.post_message(self.Finished(rc))

    # -- updates ---------------------------------------------------------------------------
    def on_deploy_screen_progress(self, msg: "DeployScreen.Progress") -> None:
        self.query_one("#deploy-transcript", Log).write_lines(msg.lines)
        self._render_all()

    def on_deploy_screen_finished(self, msg: "DeployScreen.Finished") -> None:
        self.running = False
        tr = self.tracker
        if tr is None:
            return
        if not tr.cancelled:
            tr.finish(msg.returncode)
        self._render_all()
        result = self.query_one("#deploy-result", Static)
        if tr.cancelled:
            result.update(f"■ Deploy cancelled; flyctl was stopped.\n{tr.deployed_state()}")
            result.set_class(True, "-failed")
        elif tr.failure is not None:
            f = tr.failure
            stage = tr.stages[f.stage].title
            body = "\n".join(f.lines[-15:])
            result.update(f"✗ {stage} failed: {f.message}\n{body}\n\nHint: {f.hint}\n{tr.deployed_state()}")
            result.set_class(True, "-failed")
        else:
            url = tr.url or f"https://{self.app_name}.fly.dev/"
            result.update(f"✓ Deployed: {url}\nprobing…  (m: open migrations)")
            result.set_class(True, "-ok")
            self.probe(url)

    def _spin(self) -> None:
        self._tick += 1
        if self.running:
            self._render_stages()

    def _render_all(self) -> None:
        self._render_stages()
        self._render_machines()
        tr = self.tracker
        if tr is None:
            return
        done, total = tr.push_progress
        push = tr.stages["push"].status
        bar = self.query_one("#deploy-push", ProgressBar)
        bar.update(total=max(total, 1), progress=done if total else int(push in (OK, SKIPPED)))
        self.query_one("#deploy-push-label", Static).update(push_label(done, total, push))
        bits = [f"app {self.app_name}"]
        if tr.image:
            bits.append(f"image {tr.image}" + (f" ({tr.image_size})" if tr.image_size else ""))
        if tr.monitor_url:
            bits.append(f"watch: {tr.monitor_url}")
        self.query_one("#deploy-summary", Static).update(" · ".join(bits))

    def _render_stages(self) -> None:
        tr = self.tracker
        if tr is None:
            return
        table = self.query_one("#deploy-stages", DataTable)
        for st in tr.stage_list():
            icon = _SPIN[self._tick % 4] if st.status == RUNNING else _ICON[st.status]
            detail = st.detail or (st.lines[-1] if st.status == RUNNING and st.lines else "")
            cells = (icon, st.title, detail[:60], _fmt_duration(st.duration))
            if st.id in table.rows:
                for col, val in zip(("icon", "stage", "detail", "time"), cells, strict=True):
                    table.update_cell(st.id, col, val)
            else:
                table.add_row(*cells, key=st.id)

    def _render_machines(self) -> None:
        tr = self.tracker
        if tr is None:
            return
        table = self.query_one("#deploy-machines", DataTable)
        for row in tr.machines.values():
            cells = (row.id, row.group, row.state, row.step[:70])
            if row.id in table.rows:
                for col, val in zip(("id", "group", "state", "step"), cells, strict=True):
                    table.update_cell(row.id, col, val)
            else:
                table.add_row(*cells, key=row.id)

    # -- actions ---------------------------------------------------------------------------
    def action_toggle_transcript(self) -> None:
        log = self.query_one("#deploy-transcript", Log)
        log.display = not log.display

    def action_cancel_deploy(self) -> None:
        """Ask, then stop flyctl. The question is awaited in a worker: a key handler that waited for the dialog
        would block the message loop the dialog itself needs (the app froze)."""
        if not self.running or self._asking_cancel:
            return
        self._asking_cancel = True
        self.confirm_cancel()

    @work(exclusive=False, group="deploy-confirm", exit_on_error=False)
    async def confirm_cancel(self) -> None:
        try:
            from flytui.ui.modals.confirm import ConfirmRequest

            ok = await self.host.confirm(ConfirmRequest(
                title="Stop the running deploy? (flyctl is killed; what is already released stays)",
                targets=[self.app_name],
                argvs=[["fly", *(self.options or self.form_options()).argv(self.app_name)]], danger=True,
                confirm_label="Stop the deploy", cancel_label="Keep deploying"))
            if not ok:
                return
        finally:
            self._asking_cancel = False
        if not self.running:
            self.notify("The deploy finished before the answer: nothing was stopped", severity="warning")
            return
        self.cancel_now()

    @work(exclusive=True, group="deploy-cancel", exit_on_error=False)
    async def cancel_now(self) -> None:
        """Kill flyctl's process group, then report what may already be live."""
        if self.tracker is not None:
            self.tracker.cancel()
        proc = self.process
        if proc is not None:
            await proc.terminate(grace=2.0)
        self.workers.cancel_group(self, "deploy")
        self.post_message(self.Finished(None, cancelled=True))

    def action_migrations(self) -> None:
        if self.tracker is None or not self.tracker.succeeded:
            return
        self.host.run_command_id("migrations")

    def action_releases(self) -> None:
        """The app's releases view (the main screen's releases pane; after a deploy: the new release on top)."""
        if self.running:
            self.notify("A deploy is running: wait for it or cancel it first (x)", severity="warning")
            return
        self.host.run_command_id("releases", [self.app_name])

    def busy_reason(self) -> str | None:
        """Why this screen must not be closed now (the app's global keys ask; flytui/ui/navigation.py)."""
        return "a deploy is running (x stops it)" if self.running else None

    def action_close(self) -> None:
        if self.running:
            self.notify("A deploy is running: cancel it first (x)", severity="warning")
            return
        self.dismiss()

    # -- probe -----------------------------------------------------------------------------
    @work(exclusive=True, group="deploy-probe", exit_on_error=False)
    async def probe(self, url: str) -> None:
        """GET the app (and FastAPI's /docs) with httpx: status and latency."""
        import httpx  # lazy: heavy import, only after a deploy

        results: list[str] = []
        async with httpx.AsyncClient(timeout=10, follow_redirects=True) as client:
            for target in (url, url.rstrip("/") + "/docs"):
                t = time.perf_counter()
                try:
                    resp = await client.get(target)
                    results.append(f"GET {target} → {resp.status_code} in {(time.perf_counter() - t) * 1000:.0f} ms")
                except httpx.HTTPError as exc:
                    results.append(f"GET {target} → unreachable ({type(exc).__name__}: {exc})"[:200])
        self.post_message(self.Probed(results))

    def on_deploy_screen_probed(self, msg: "DeployScreen.Probed") -> None:
        self.probe_results = msg.results
        tr = self.tracker
        url = tr.url if tr and tr.url else ""
        self.query_one("#deploy-result", Static).update(
            f"✓ Deployed: {url}\n" + "\n".join(msg.results) + "\nm: open the migrations pane · v: release history")
