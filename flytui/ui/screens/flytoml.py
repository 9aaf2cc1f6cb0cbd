"""fly.toml editor: view (syntax highlighted), edit, live validation, save as a confirmed diff, atomically.

The buffer is written exactly as typed (or, for a proposed change, as tomlkit renders it), so comments and
layout are preserved. Invalid TOML (or an invalid fly.toml value) cannot be saved; the message says where.
``FlyTomlScreen(project_dir, proposed=FlyToml, reason=...)`` (the doctor's fixes) opens straight on the diff.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, Static, TextArea

from flytui.ui.screens.dialog import Dialog
from flytui.fly.flytoml import FLY_TOML, FlyTomlIssue, unified_diff, validate_text, write_atomic

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.flytoml import FlyToml


def diff_markup(diff: str) -> str:
    """Colour a unified diff with theme variables (added $success, removed $error, hunks $accent)."""
    out = []
    for line in diff.splitlines():
        text = escape(line)
        if line.startswith(("+++", "---")):
            out.append(f"[b]{text}[/b]")
        elif line.startswith("+"):
            out.append(f"[$success]{text}[/]")
        elif line.startswith("-"):
            out.append(f"[$error]{text}[/]")
        elif line.startswith("@@"):
            out.append(f"[$accent]{text}[/]")
        else:
            out.append(text)
    return "\n".join(out)


def issues_markup(issues: list[FlyTomlIssue]) -> str:
    """One line per validation issue (errors first); a green line when there is none."""
    if not issues:
        return "[$success]✓ valid fly.toml[/]"
    ordered = sorted(issues, key=lambda i: i.severity != "error")
    lines = []
    for i in ordered:
        color, mark = ("error", "✗") if i.severity == "error" else ("warning", "!")
        where = f"{i.path}: " if i.path else ""
        lines.append(f"[${color}]{mark} {escape(where + i.message)}[/]")
    return "\n".join(lines)


def errors_of(issues: list[FlyTomlIssue]) -> list[FlyTomlIssue]:
    return [i for i in issues if i.severity == "error"]


class DiffConfirmScreen(Dialog[bool]):
    """Confirm a save: names the file and shows the unified diff against the file on disk."""

    CSS_PATH = str(Path(__file__).with_name("flytoml.tcss"))
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("y", "confirm", "Save", show=False),
                Binding("n", "cancel", "Cancel", show=False)]

    def __init__(self, path: Path, diff: str, reason: str | None = None) -> None:
        super().__init__()
        self.path, self.diff, self.reason = path, diff, reason

    def compose(self) -> ComposeResult:
        with Vertical(id="flytoml-confirm-box"):
            yield Label(f"Save {FLY_TOML}?", id="flytoml-confirm-title")
            yield Static(f"Target: [b]{escape(str(self.path))}[/b]", id="flytoml-confirm-target")
            if self.reason:
                yield Static(escape(self.reason), id="flytoml-confirm-reason")
            with VerticalScroll(id="flytoml-diff-scroll"):
                yield Static(diff_markup(self.diff), id="flytoml-diff")
            with Horizontal(id="flytoml-confirm-buttons"):
                yield Button("Save", id="flytoml-save", variant="primary")
                yield Button("Cancel", id="flytoml-cancel")
            yield self.key_hints()

    def hints(self) -> list[tuple[str, str]]:
        return [("y", "save"), ("n/esc", "cancel"), ("tab", "switch")]

    #: rows of the box besides the diff: border, padding, title, target (2 lines when long), margins, buttons, keys
    CHROME_ROWS = 18

    def on_mount(self) -> None:
        self.query_one("#flytoml-save", Button).focus()  # enter = the focused button (the diff is above)
        self._fit_diff(self.app.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_diff(event.size.height)

    def _fit_diff(self, height: int) -> None:
        """The diff scrolls in what the terminal leaves, so the buttons and the key line stay in view at 24 rows."""
        chrome = self.CHROME_ROWS + (2 if self.reason else 0)
        self.query_one("#flytoml-diff-scroll").styles.max_height = max(3, min(24, height - chrome))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "flytoml-save")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class FlyTomlScreen(Screen[bool]):
    """View and edit ``project_dir/fly.toml``. Dismisses with True when a proposed change was saved."""

    CSS_PATH = str(Path(__file__).with_name("flytoml.tcss"))
    BINDINGS = [
        # priority: the code editor would otherwise take escape to move the focus
        Binding("escape", "close", "Back", priority=True),
        Binding("e", "edit", "Edit"),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+r", "reload", "Reload from disk"),
    ]

    def __init__(self, project_dir: Path, proposed: "FlyToml | None" = None, reason: str | None = None) -> None:
        super().__init__()
        self.project_dir = Path(project_dir)
        self.path = self.project_dir / FLY_TOML
        self.proposed = proposed
        self.reason = reason
        self.disk_text = self._read_disk()
        self.editing = False
        self.issues: list[FlyTomlIssue] = []
        self._discard_warned = False

    # --- layout -------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="flytoml-title")
        if self.reason:
            yield Static(f"[$accent]Proposed change:[/] {escape(self.reason)}", id="flytoml-reason")
        text = self.proposed.dumps() if self.proposed is not None else self.disk_text
        area = TextArea.code_editor(text, language=self._language(), read_only=True, id="flytoml-text",
                                    soft_wrap=False)
        yield area
        yield Static("", id="flytoml-issues")
        yield Footer()

    @staticmethod
    def _language() -> str | None:
        return "toml" if "toml" in TextArea().available_languages else None

    def on_mount(self) -> None:
        self._validate()
        self._update_title()
        self.text_area.focus()
        if not self.path.exists() and self.proposed is None:
            self.notify(f"No {FLY_TOML} in {self.project_dir} yet: press e to write one", severity="warning")
        if self.proposed is not None:
            self.call_after_refresh(self.action_save)

    @property
    def text_area(self) -> TextArea:
        return self.query_one("#flytoml-text", TextArea)

    @property
    def dirty(self) -> bool:
        return self.text_area.text != self.disk_text

    def _read_disk(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def _update_title(self) -> None:
        mode = "[$warning]editing[/]" if self.editing else "viewing (e to edit)"
        state = "  ·  [$accent]unsaved changes[/]" if self.dirty else ""
        self.query_one("#flytoml-title", Static).update(
            f"[b]{FLY_TOML}[/b]  ·  {escape(str(self.path))}  ·  {mode}{state}")

    def _validate(self) -> None:
        self.issues = validate_text(self.text_area.text)
        self.query_one("#flytoml-issues", Static).update(issues_markup(self.issues))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._discard_warned = False
        self._validate()
        self._update_title()

    # --- actions --------------------------------------------------------------------------------------
    def action_edit(self) -> None:
        if not self.app.guard_mutation(f"Edit {FLY_TOML}"):
            return
        self.editing = True
        area = self.text_area
        area.read_only = False
        area.focus()
        self._update_title()

    def busy_reason(self) -> str | None:
        """Why this screen must not be closed now (the app's global keys ask; flytui/ui/navigation.py)."""
        return f"{FLY_TOML} has unsaved changes (ctrl+s saves, esc twice discards)" if self.dirty else None

    def action_close(self) -> None:
        if self.editing:  # first escape leaves edit mode, the buffer stays
            self.editing = False
            self.text_area.read_only = True
            self._update_title()
            return
        if self.dirty and not self._discard_warned:
            self._discard_warned = True
            self.notify("Unsaved changes: ctrl+s to save, escape again to discard", severity="warning")
            return
        self.dismiss(False)

    def action_reload(self) -> None:
        self.disk_text = self._read_disk()
        self.text_area.load_text(self.disk_text)
        self._validate()
        self._update_title()

    def action_save(self) -> None:
        self.save()

    @work(exclusive=True, group="flytoml-save", exit_on_error=False)
    async def save(self) -> None:
        """Validate, show the diff against the file on disk, write atomically on yes."""
        if not self.app.guard_mutation(f"Save {FLY_TOML}"):
            return
        text = self.text_area.text
        errors = errors_of(validate_text(text))
        if errors:
            where = "; ".join(f"{e.path + ': ' if e.path else ''}{e.message}" for e in errors)
            self.notify(f"{FLY_TOML} not saved: {where}", title="invalid fly.toml", severity="error", timeout=10)
            return
        try:
            disk = await asyncio.to_thread(self._read_disk)
        except OSError as exc:
            self.app.report_error(exc, f"read {FLY_TOML}")
            return
        diff = unified_diff(disk, text, name=FLY_TOML)
        if not diff:
            self.notify(f"{FLY_TOML}: no changes to save")
            return
        if not await self.app.push_screen_wait(DiffConfirmScreen(self.path, diff, self.reason)):
            return
        try:
            await asyncio.to_thread(write_atomic, self.path, text)
        except OSError as exc:
            self.app.report_error(exc, f"write {FLY_TOML}")
            return
        self.disk_text = text
        self.editing = False
        self.text_area.read_only = True
        self._update_title()
        self.notify(f"Saved {self.path}", title=FLY_TOML)
        if self.proposed is not None:
            self.dismiss(True)
