"""DATABASE_URL doctor: diagnose a pasted (or, on request, read-from-machine) URL, show the fix as a masked
diff, and set the fixed value as a secret through stdin.

The screen can be opened prefilled (``initial=``: e.g. by the doctor's one-key fix). When the fixed value was set
on Fly.io it is kept **in memory** as ``app.database_url`` (never written anywhere, only ever shown masked) and
returned as the screen's result, so the doctor re-run and the migrations screen can use it; otherwise the result
is None.
"""
from __future__ import annotations


from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static
from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog
from flytui.ui.widgets.diff_line import DiffLine
from flytui.ui.seams import Hosted


def diagnose(url: str) -> tuple[list[str], str | None]:
    """(problems, fixed_url or None when nothing to fix), using ``flytui.db.urls``."""
    from flytui.db.urls import diagnose_url, fix_url

    diag = diagnose_url(url)
    problems = [str(getattr(p, "message", p)) for p in (getattr(diag, "problems", None) or [])]
    fixed = fix_url(url)
    return problems, (fixed if fixed != url else None)


def masked_diff(old: str, new: str) -> list[tuple[str, str]]:
    """The diff of the masked URLs as ``(marker, masked URL)`` lines (the password never shows)."""
    from flytui.db.urls import mask_url

    return [("-", mask_url(old)), ("+", mask_url(new))]


class DatabaseUrlScreen(Dialog[str | None], Hosted):
    """Check a DATABASE_URL and set the fixed value; dismisses with the fixed URL once it was set, else None."""

    BINDINGS = commands.local_bindings([commands.DIALOG])

    def __init__(self, app_name: str, initial: str | None = None) -> None:
        super().__init__()
        self.app_name = app_name
        self.initial = initial
        self.fixed: str | None = None
        self.original: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(f"DATABASE_URL doctor — {self.app_name}", classes="dialog-title", markup=False)
            yield Label("Paste the value (shown masked), or read it from a running machine (fly ssh console).\n"
                        "The fixed value is set with `fly secrets import` (stdin, never argv); flytui keeps it "
                        "in memory only.")
            yield Input(password=True, placeholder="postgres://user:password@host:5432/db", id="dburl-input")
            yield Static("", id="dburl-result", markup=False)
            with Vertical(id="dburl-diff"):  # a fixed marker column, the (masked) value wrapping beside it
                yield DiffLine("-", id="dburl-diff-old")
                yield DiffLine("+", id="dburl-diff-new")
            yield Checkbox("Stage only (apply on next deploy)", False, id="dburl-stage")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Read from machine", id="dburl-read")
                yield Button("Check", id="dburl-check")
                yield Button("Fix", id="dburl-fix", variant="warning", disabled=True)
                yield Button("Close", id="dburl-close")
            yield self.key_hints()

    ENTER_HINT = "check the URL"

    def hints(self) -> list[tuple[str, str]]:
        return [("tab", "next field/button"), ("esc", "close")]

    def on_mount(self) -> None:
        inp = self.query_one("#dburl-input", Input)
        if self.initial:
            inp.value = self.initial
            self.check(self.initial)
            fix = self.query_one("#dburl-fix", Button)
            (inp if fix.disabled else fix).focus()  # prefilled with a fixable value: enter applies the fix
        else:
            inp.focus()

    def check(self, url: str) -> None:
        result = self.query_one("#dburl-result", Static)
        try:
            problems, fixed = diagnose(url)
        except Exception as exc:  # noqa: BLE001 - invalid URL text from the user
            result.update(f"Cannot parse this URL: {getattr(exc, 'message', exc)}")
            self.show_diff([])
            return
        self.original, self.fixed = url, fixed
        if fixed is None:
            result.update("✓ Works with SQLAlchemy + psycopg 3; nothing to fix." +
                          ("\n" + "\n".join(problems) if problems else ""))
        else:
            result.update("\n".join(f"✗ {p}" for p in problems))
        self.show_diff([] if fixed is None else masked_diff(url, fixed))
        fix_btn = self.query_one("#dburl-fix", Button)
        fix_btn.disabled = fixed is None or self.host.read_only

    def show_diff(self, lines: list[tuple[str, str]]) -> None:
        """Show the ``(marker, masked value)`` lines of :func:`masked_diff`; none hides the diff."""
        diff = self.query_one("#dburl-diff", Vertical)
        for line, (_marker, value) in zip(diff.query(DiffLine), lines, strict=False):
            line.show(value)
        diff.display = bool(lines)

    def diff_text(self) -> str:
        """The diff as shown, one ``- value`` line each (masked); empty when there is nothing to fix."""
        diff = self.query_one("#dburl-diff", Vertical)
        return "\n".join(line.text for line in diff.query(DiffLine)) if diff.display else ""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.check(event.value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id
        if bid == "dburl-check":
            self.check(self.query_one("#dburl-input", Input).value.strip())
        elif bid == "dburl-read":
            self.read_from_machine()
        elif bid == "dburl-fix":
            self.apply_fix()
        else:
            self.dismiss(None)

    @work(exclusive=True, group="dburl-read", exit_on_error=False)
    async def read_from_machine(self) -> None:
        op = self.host.begin_op(f"read DATABASE_URL {self.app_name}")
        try:
            url = await self.host.client.read_database_url(self.app_name)
        except Exception as exc:  # noqa: BLE001 - shown via report_error
            self.host.report_error(exc, "read DATABASE_URL")
            return
        finally:
            self.host.end_op(op)
        if not url:
            self.app.notify("DATABASE_URL is not set on the machine", severity="warning")
            return
        self.query_one("#dburl-input", Input).value = url
        self.check(url)

    @work(exclusive=True, group="dburl-fix", exit_on_error=False)
    async def apply_fix(self) -> None:
        if not self.fixed or not self.host.guard_mutation("DATABASE_URL fix"):
            return
        stage = self.query_one("#dburl-stage", Checkbox).value
        op = self.host.begin_op(f"fix DATABASE_URL {self.app_name}")
        try:
            run = await self.host.client.set_secrets(self.app_name, {"DATABASE_URL": self.fixed}, stage=stage)
        except Exception as exc:  # noqa: BLE001 - shown via report_error
            self.host.report_error(exc, "fix DATABASE_URL")
            return
        finally:
            self.host.end_op(op)
        fixed = self.fixed
        self.host.database_url = fixed  # memory only: the doctor re-run and the migrations screen use it
        # flyctl stages secrets by itself for an app that has never been deployed
        said = f"{run.stdout} {run.stderr}".lower()
        staged = stage or "staged" in said
        self.app.notify(f"DATABASE_URL fixed on {self.app_name}"
                        + (" (staged: deploy with d to apply it)" if staged else " (machines updated)")
                        + ": postgresql+psycopg:// (kept in memory for migrations)")
        self.dismiss(fixed)
