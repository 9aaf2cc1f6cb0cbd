"""Snapshot tests (pytest-textual-snapshot) of the panes and dialogs against a fixed sandbox state: every id, name,
image and timestamp is seeded, the terminal size is fixed (80x24 and 140x40 for every view and dialog) and the
screenshot is taken only once the screen settled (tests/helpers/settle.py: loaded, no worker running, two identical
renders), never after a fixed pause.

Regenerate after an intended UI change: ``python -m pytest tests/test_ui_snapshots.py --snapshot-update``.
"""
from __future__ import annotations

import pytest

from tests.helpers.settle import settle
from tests.helpers.snapshots import make, seed

SIZE = (140, 30)


def settled(pane_id: str, press: tuple[str, ...] = ()):
    """``run_before`` hook: press keys, then wait until the pane loaded, nothing runs and the screen is stable."""

    async def run_before(pilot) -> None:
        app = pilot.app
        for key in press:
            await pilot.press(key)

        def ready() -> bool:
            pane = app.main.query_one(f"#{pane_id}")
            header = str(app.main.query_one("#header").render())
            return (app.main.query_one("#panes").current == pane_id and pane.loads >= 1
                    and not app.main.query_one("#ops").ops and "…" not in header)

        await settle(pilot, ready, what=f"the {pane_id} pane")

    return run_before


@pytest.mark.parametrize("pane, kw, press", [
    ("apps", {}, ()),
    ("machines", {"current_app": "api"}, ()),
    ("secrets", {"current_app": "api"}, ("3",)),
], ids=["apps", "machines", "secrets"])
def test_pane_snapshot(sandbox, snap_compare, pane, kw, press):
    seed(sandbox)
    assert snap_compare(make(sandbox, **kw), terminal_size=SIZE, run_before=settled(pane, press))


# ---------------------------------------------------------------- every view and dialog at 80x24 and 140x40
SIZES = {"80x24": (80, 24), "140x40": (140, 40)}


def _modal_open(app) -> bool:
    from textual.screen import ModalScreen

    return isinstance(app.screen, ModalScreen)


def views_settled(pane_id: str | None, press: tuple[str, ...], modal: bool):
    """Press keys (after the first pane loaded), then wait for the pane (or the dialog) and a stable screen."""

    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(pilot, lambda: app.main.pane.loads >= 1, what="the first pane")
        for key in press:
            if key.startswith("@"):  # wait until that pane loaded (its rows are what the next key acts on)
                loaded = key[1:]
                await settle(pilot, lambda: app.main.query_one("#panes").current == loaded
                             and app.main.query_one(f"#{loaded}").loads >= 1, what=f"the {loaded} pane")
            else:
                await pilot.press(key)

        def ready() -> bool:
            if modal:
                return _modal_open(app)
            pane = app.main.query_one(f"#{pane_id}")
            header = str(app.main.query_one("#header").render())
            return (app.main.query_one("#panes").current == pane_id and pane.loads >= 1
                    and not app.main.query_one("#ops").ops and "…" not in header)

        # a confirm dialog is awaited by the worker that asked: that worker runs while the dialog is shown
        await settle(pilot, ready, what=f"{pane_id or 'the dialog'} after {press}", workers_idle=not modal)

    return run_before


VIEWS = [  # (id, pane or None for a dialog, keys from the machines pane of `api`)
    ("apps", "apps", ("1",)),
    ("machines", "machines", ()),
    ("secrets", "secrets", ("3",)),
    ("volumes", "volumes", ("4",)),
    ("tunnels", "tunnels", ("P",)),
    ("help", None, ("question_mark",)),
    ("switch-app", None, ("1", "@apps", "A")),
    ("confirm-destroy-app", None, ("1", "@apps", "ctrl+d")),
    ("set-secret", None, ("3", "@secrets", "n")),
    ("confirm-unset-secret", None, ("3", "@secrets", "ctrl+d")),
]


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("name, pane, press", VIEWS, ids=[v[0] for v in VIEWS])
def test_view_snapshot(sandbox, snap_compare, name, pane, press, size):
    """Centred, nothing clipped, the dialog's keys visible: look at the SVG when regenerating."""
    seed(sandbox)
    assert snap_compare(make(sandbox, current_app="api"), terminal_size=SIZES[size],
                        run_before=views_settled(pane, press, modal=pane is None))
