"""Scale dialog: machine count per process group (``fly scale count``) and VM size (``fly scale vm``).

Current values are prefilled from ``fly machine list``; Apply shows one confirmation with the exact argv of
every change, runs them in order and reports each result.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, Select

from flytui.fly.command import FlyCommand
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.modals.dialog import FormDialog
from flytui.fly.models import Guest, Machine

VM_SIZES: tuple[str, ...] = (
    "shared-cpu-1x", "shared-cpu-2x", "shared-cpu-4x", "shared-cpu-8x",
    "performance-1x", "performance-2x", "performance-4x", "performance-8x", "performance-16x")


def size_name(guest: Guest | None) -> str | None:
    """flyctl's VM size name for a machine's guest (``shared`` 2 CPUs -> ``shared-cpu-2x``)."""
    if guest is None:
        return None
    kind = guest.cpu_kind or "shared"
    return f"shared-cpu-{guest.cpus}x" if kind == "shared" else f"{kind}-{guest.cpus}x"


@dataclass(frozen=True)
class ScaleState:
    """Current scale of an app: machines per process group and the most common VM size."""

    counts: dict[str, int]
    size: str | None

    @classmethod
    def from_machines(cls, machines: list[Machine]) -> "ScaleState":
        counts: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        for m in machines:
            if m.state in ("destroyed", "destroying") or not m.is_user_visible:
                continue
            counts[m.process_group or "app"] += 1
            name = size_name(m.guest)
            if name:
                sizes[name] += 1
        return cls(dict(sorted(counts.items())), sizes.most_common(1)[0][0] if sizes else None)


def scale_plan(client: Any, app: str, current: ScaleState, counts: dict[str, int],
               size: str | None) -> list[FlyCommand]:
    """The client's commands for the changes only (counts first, then the VM size)."""
    plan = [client.scale_count_command(app, n, group)
            for group, n in counts.items() if current.counts.get(group) != n]
    if size and size != current.size:
        plan.append(client.scale_vm_command(app, size))
    return plan


class ScaleScreen(FormDialog[bool]):
    """Dismisses True when at least one change was applied."""

    FORM_ID = "scale"
    CANCEL_RESULT = False

    def __init__(self, app_name: str) -> None:
        super().__init__()
        self.app_name = app_name
        self.current: ScaleState | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(f"Scale {self.app_name}", classes="dialog-title", markup=False)
            yield Label("Loading machines…", id="scale-status", markup=False)
            yield Vertical(id="scale-groups")
            yield Label("VM size (all machines)")
            yield Select([(s, s) for s in VM_SIZES], id="scale-vm", allow_blank=True, prompt="unchanged")
            yield Label("", id="scale-error", markup=False)
            yield self.form_buttons("Apply", disabled=True)
            yield self.key_hints()

    ENTER_HINT = "apply (asks first)"

    def on_mount(self) -> None:
        self.load_current()

    @work(exclusive=True, group="scale-load", exit_on_error=False)
    async def load_current(self) -> None:
        try:
            machines = await self.host.client.machines(self.app_name)
        except Exception as exc:  # noqa: BLE001 - whatever failed is shown (FlyError: flyctl's text and hint)
            self.host.report_error(exc, f"list machines of {self.app_name}")
            self.query_one("#scale-status", Label).update("Could not load the machines")
            return
        self.show_current(ScaleState.from_machines(list(machines)))

    def show_current(self, state: ScaleState) -> None:
        self.current = state
        counts = state.counts or {"app": 0}
        box = self.query_one("#scale-groups", Vertical)
        for group, n in counts.items():
            box.mount(Label(Content.from_markup("process group [b]$group[/b] (now $n)", group=group, n=str(n))))
            box.mount(Input(str(n), id=f"scale-count-{group}", classes="scale-count", restrict=r"\d*"))
        summary = ", ".join(f"{g}: {n}" for g, n in counts.items())
        self.query_one("#scale-status", Label).update(f"Now: {summary}; VM {state.size or 'unknown'}")
        if state.size in VM_SIZES:
            self.query_one("#scale-vm", Select).value = state.size
        self.query_one("#scale-yes", Button).disabled = False
        self.call_after_refresh(lambda: self.query(".scale-count").first(Input).focus())

    def wanted(self) -> tuple[dict[str, int], str | None] | None:
        """The form's values; None (with an error shown) when a count is not a number."""
        counts: dict[str, int] = {}
        for box in self.query(".scale-count").results(Input):
            group = (box.id or "").removeprefix("scale-count-")
            if not box.value.strip().isdigit():
                self.query_one("#scale-error", Label).update(f"Count for {group} must be a whole number")
                return None
            counts[group] = int(box.value)
        value = self.query_one("#scale-vm", Select).value
        return counts, value if isinstance(value, str) else None

    def submit(self) -> None:
        self.apply()

    @work(exclusive=True, group="scale-apply", exit_on_error=False)
    async def apply(self) -> None:
        """Confirm the plan (exact argv), run it step by step, notify each result."""
        if self.current is None or not self.host.guard_mutation("Scale"):
            return
        wanted = self.wanted()
        if wanted is None:
            return
        plan = scale_plan(self.host.client, self.app_name, self.current, *wanted)
        if not plan:
            self.query_one("#scale-error", Label).update("Nothing changed")
            return
        req = ConfirmRequest(f"Scale {self.app_name}?", [self.app_name], commands=plan, confirm_label="Scale")
        if not await self.host.confirm(req):
            return
        applied = 0
        for step in plan:
            ok = await self._run_step(step)
            applied += ok
            if not ok:
                break
        self.dismiss(applied > 0)

    async def _run_step(self, step: FlyCommand) -> bool:
        args = step.args
        label = " ".join(args[:3])
        op = self.host.begin_op(label)
        try:
            await self.host.client.execute(step)
            message = f"{step.target}: {args[2]} machine(s)" if args[1] == "count" else f"VM size {args[2]}"
        except Exception as exc:  # noqa: BLE001 - one place turns it into a notification
            self.host.report_error(exc, f"fly {label}")
            return False
        finally:
            self.host.end_op(op)
        self.app.notify(f"{self.app_name}: {message}", title="Scaled")
        return True
