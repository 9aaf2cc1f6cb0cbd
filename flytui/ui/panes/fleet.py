"""Fleet pane (issue 19, like fly-tui's multi-account view): accounts → orgs → apps in one table, with machines
started/total, ``min_machines_running`` and a warning where a service that must stay up may scale to zero.

Every account has its own flyctl runner; its token goes to flyctl in the child's environment only
(:mod:`flytui.fly.accounts`). Reading the fleet never changes anything. ``enter`` makes the row's account and app the
console's current ones; a ``read_only`` account turns read-only mode on while it is in use (the one guard in
``FlytuiApp.action_command`` refuses every mutating command), and choosing a row of the console's own login
(the implicit ``default`` account) goes back to it.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from functools import partial
import weakref
from typing import Any

from rich.text import Text

from flytui.fly.accounts import Account, AccountsError, FleetApp, load_accounts
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui.config import Config
from flytui.fly.errors import FlyError
from flytui.fly.ops import services_from_machines
from flytui.ui import commands
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.fields import state_cell
from flytui.ui.seams import AppSeams, run_async

APP_CONCURRENCY = 6
LEVEL_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "grey62", "": "grey62"}


@dataclass
class Home:
    """The console's own client, runner and config (restored when the implicit account is chosen again)."""

    client: FlyClient
    runner: FlyctlRunner | None
    config: Config
    account: str = "default"


#: each console's own client, runner and config, kept while it lives (taken when the fleet first switches)
_HOMES: weakref.WeakKeyDictionary[AppSeams, Home] = weakref.WeakKeyDictionary()


def home_of(app: AppSeams) -> Home:
    home = _HOMES.get(app)
    if home is None:
        home = _HOMES[app] = Home(app.client, app.runner, app.config)
    return home


def client_for(app: AppSeams, account: Account, cache: dict[str, FlyClient]) -> FlyClient:
    """A FlyClient whose flyctl children carry ``account``'s token (env only); the console's own for ``implicit``."""
    home = home_of(app)
    if account.implicit:
        return home.client
    if account.name not in cache:
        from flytui.fly.client import FlyClient

        runner = account.runner(home.runner)
        app.command_log.attach(runner)  # its calls show in the command log (argv only, never the environment)
        cache[account.name] = FlyClient(runner)
    return cache[account.name]


def fleet_row(f: FleetApp) -> dict[str, Any]:
    text, level = f.warning()
    return {
        "account": Text(f.account.name + (" (ro)" if f.account.read_only else ""),
                        style="yellow" if f.account.read_only else ""),
        "org": Text(f.org or "-"),
        "app": Text(f.name or "-"),
        "status": state_cell(f.status) if f.status else Text("-", style="grey62"),
        "machines": Text(f"{f.started}/{f.machines}" if f.machines else ("-" if f.error else "0")),
        "min": Text("-" if f.min_running is None else str(f.min_running)),
        "warning": Text(text or "-", style=LEVEL_STYLE[level]),
    }


class FleetPane(Pane):
    GROUP = commands.FLEET
    TITLE = "Fleet"
    NEEDS_APP = False
    EMPTY = "No apps in any account. Accounts come from {token}."
    COLUMNS = [("account", "ACCOUNT"), ("org", "ORG"), ("app", "APP"), ("status", "STATUS"),
               ("machines", "STARTED/MACHINES"), ("min", "MIN RUNNING"), ("warning", "WARNING")]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entries: dict[str, FleetApp] = {}
        self._clients: dict[str, FlyClient] = {}

    def token(self) -> Any:
        return "fleet"  # every account, whatever the current org

    def empty_text(self) -> str:
        from flytui.fly.accounts import default_accounts_path

        return self.EMPTY.format(token=default_accounts_path())

    def title_text(self) -> str:
        home = _HOMES.get(self.host)
        using = home.account if home is not None else "default"
        return f"Fleet — every account (console using: {using})"

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        try:
            accounts = await asyncio.to_thread(load_accounts)
        except AccountsError as exc:
            bad = FleetApp(Account("accounts.toml"), "", "", error=str(exc))
            return {"!accounts": fleet_row(bad)}, {"!accounts": bad}
        limit = asyncio.Semaphore(APP_CONCURRENCY)
        per_account = await asyncio.gather(*(self._account(a, limit) for a in accounts))
        entries = {f.key: f for group in per_account for f in group}
        rows = {k: fleet_row(f) for k, f in sorted(entries.items(), key=lambda kv: (
            kv[1].account.name, kv[1].org, kv[1].name))}
        return rows, entries

    async def _account(self, account: Account, limit: asyncio.Semaphore) -> list[FleetApp]:
        try:
            client = client_for(self.host, account, self._clients)
            apps = await client.apps()
        except (FlyError, AccountsError) as exc:
            msg = exc.message + (f" — {exc.hint}" if getattr(exc, "hint", "") else "") if isinstance(
                exc, FlyError) else str(exc)
            return [FleetApp(account, "", "", error=msg)]
        out = []
        for a in apps:
            org = a.organization.slug if a.organization is not None else ""
            if account.shows_org(org):
                out.append(FleetApp(account, org, a.name, status=a.status))

        async def machines(f: FleetApp) -> None:
            async with limit:
                try:
                    ms = await client.machines(f.name)
                except FlyError as exc:
                    f.error = f"machines: {exc.message}"
                    return
            ms = [m for m in ms if m.state not in ("destroyed", "destroying")]
            f.machines = len(ms)
            f.started = sum(1 for m in ms if m.state == "started")
            services = services_from_machines(ms)
            mins = [s.min_machines_running for s in services if s.min_machines_running is not None]
            f.min_running = max(mins) if mins else None
            f.scales_to_zero = any(s.may_scale_to_zero for s in services)

        await asyncio.gather(*(machines(f) for f in out))
        return out

    def after_load(self, extra: Any) -> None:
        self.entries = extra or {}

    # --- switching the console to a row's account --------------------------------------------------
    def on_data_table_row_selected(self, event: Any) -> None:
        if event.data_table is self.table:
            event.stop()
            self.host.run_command_id("fleet-open")

    def action_open(self) -> None:
        entry = self.entries.get(self.table.selected_key or "")
        if entry is None or not entry.name:
            self.app.notify("Choose an app row (this account did not load)", severity="warning")
            return
        run_async(self, partial(self._switch, entry), name="fleet-switch", group="fleet-switch", exclusive=True,
                        exit_on_error=False)

    async def _switch(self, entry: FleetApp) -> None:
        app = self.host
        home = home_of(app)
        account = entry.account
        if account.name != home.account:
            await app.close_tunnels()  # tunnels belong to the account that opened them
        if account.implicit:
            app.client, app.runner, app.config = home.client, home.runner, home.config
        else:
            client = client_for(app, account, self._clients)
            app.client = client
            app.runner = client.runner if isinstance(client.runner, FlyctlRunner) else None
            app.config = replace(home.config, read_only=home.config.read_only or account.read_only)
        home.account = account.name
        app.current_app = entry.name
        app.load_header()
        app.update_header()
        app.show_view("machines")
        app.notify(f"Using account {account.name} for {entry.name}" +
                   (" — read-only: changes are refused" if app.read_only else ""), title="fleet", markup=False)
