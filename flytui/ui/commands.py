"""The one command registry: it feeds every key binding, the command palette, ``:`` mode and the ``?`` help screen.

Every user-visible action is a :class:`Command`. Panes bind their group's commands; the app binds the
``global`` and ``view`` groups. All of them run through ``FlytuiApp.action_command(id)``, which is the single
place where read-only mode refuses ``mutating`` commands.

:data:`LOCAL_KEYS` are the keys of one dialog, form or full screen (esc closes, ``y`` confirms, ctrl+s saves):
they act on the widget that binds them (:func:`local_bindings`), so they are not run by name from the palette
or ``:`` mode, but help, the README table and the user keymap see them like every other key. No module outside
this one constructs a ``Binding`` (a test checks).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

GLOBAL, VIEW, APPS, MACHINES, SECRETS, VOLUMES = "global", "view", "apps", "machines", "secrets", "volumes"
MIGRATIONS = "migrations"  # keys bound by the migrations screen (flytui/ui/screens/migrations.py)
# keys bound by the logs / deploy screens (flytui/ui/screens/{logs,deploy}.py)
LOGS, DEPLOY = "logs", "deploy"
COMMAND_LOG, TUNNELS, RELEASES = "command-log", "tunnels", "releases"
CLUSTERS = "clusters"  # Fly Managed Postgres clusters (flytui/ui/panes/clusters.py)
SERVICES, MEMBERS = "services", "members"  # services & IPs, org members (flytui/ui/panes/{services,members}.py)
FLEET = "fleet"  # every account -> org -> app (flytui/ui/panes/fleet.py, flytui/fly/accounts.py)
# groups of LOCAL_KEYS: keys of dialogs (ui/modals), forms and full screens (ui/screens), bound where they act
DIALOG, DETAIL, HELP, CONFIRM, SECRET_FORM = "dialog", "detail", "help", "confirm", "secret-form"
SCREEN, FLYTOML, DOCTOR, COMMAND_LINE = "screen", "flytoml", "doctor", "command-line"
#: screens that own a command group, and the registry action that opens each (palette / `:` from elsewhere)
SCREEN_OPENERS = {MIGRATIONS: "open_migrations"}
PANE_GROUPS = (APPS, MACHINES, SECRETS, VOLUMES, COMMAND_LOG, TUNNELS, RELEASES, CLUSTERS, SERVICES, MEMBERS, FLEET)


@dataclass(frozen=True)
class Command:
    """One action: ``id`` is also its ``:`` name; ``action`` is the Textual action run on the app or pane."""

    id: str
    title: str
    help: str
    key: str | None
    aliases: tuple[str, ...] = ()
    group: str = GLOBAL
    mutating: bool = False
    action: str = ""
    takes_arg: bool = False
    #: LOCAL_KEYS only: shown in the footer (None: the group's rule), checked before the focused widget
    show: bool | None = None
    priority: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)


def _c(id: str, title: str, help: str, key: str | None, group: str, action: str, *aliases: str,
       mutating: bool = False, takes_arg: bool = False) -> Command:
    return Command(id, title, help, key, tuple(aliases), group, mutating, action, takes_arg)


COMMANDS: tuple[Command, ...] = (
    # views (k9s style ``:apps``, ``:machines APP``)
    _c("apps", "Apps", "Show all apps (filtered by the current org)", "1", VIEW, "show_view('apps')", "a", "app"),
    _c("machines", "Machines", "Show the machines of the current app (or :machines APP)", "2", VIEW,
       "show_view('machines')", "m", "mach", "vm", takes_arg=True),
    _c("secrets", "Secrets", "Show the secrets of the current app (or :secrets APP)", "3", VIEW,
       "show_view('secrets')", "s", "sec", takes_arg=True),
    _c("volumes", "Volumes", "Show the volumes of the current app (or :volumes APP)", "4", VIEW,
       "show_view('volumes')", "v", "vol", takes_arg=True),
    _c("clusters", "MPG clusters", "Fly Managed Postgres clusters of the current org (every org when none is chosen)",
       "5", VIEW, "show_view('clusters')", "mpg", "cluster", "managed-postgres"),
    _c("logs", "Logs", "Tail the logs of the current app (or :logs APP)", "l", VIEW, "open_logs", "lo", takes_arg=True),
    _c("deploy", "Deploy", "Deploy the project folder (fly.toml) with flyctl", "d", VIEW, "open_deploy", "dep",
       mutating=True),
    _c("migrations", "Migrations", "Alembic migrations of the project's database", "M", VIEW, "open_migrations",
       "mig", "alembic"),
    _c("doctor", "Doctor", "Preflight checks for the project folder", "H", VIEW, "open_doctor", "doc"),
    _c("flytoml", "fly.toml", "View and edit fly.toml (validated, shown as a diff, written atomically)", "T", VIEW,
       "open_flytoml", "toml"),
    _c("releases", "Releases", "Release history of the current app; redeploy an earlier image (or :releases APP)",
       "V", VIEW, "open_releases", "rel", "rollback", "release-history", "rh", takes_arg=True),
    _c("command-log", "Command log", "Every flyctl call flytui made: argv (redacted), exit code, duration, stderr",
       "at", VIEW, "show_view('command-log')", "cl", "cmdlog", "history"),
    _c("tunnels", "Tunnels", "Live fly proxy tunnels: open one (e.g. for psql), close one", "P", VIEW,
       "show_view('tunnels')", "tun", "pf", "proxy"),
    _c("scale", "Scale", "Machine count per process group and VM size (fly scale count / fly scale vm)", "S",
       VIEW, "open_scale", "sc", mutating=True, takes_arg=True),
    _c("previous", "Previous view", "Go back to the previous view", "minus", VIEW, "previous_view", "-"),
    # global
    _c("refresh", "Refresh", "Refresh the current view now", "r", GLOBAL, "refresh_view"),
    _c("filter", "Filter", "Filter the table: text, /regex/, !invert, field:value", "slash", GLOBAL, "start_filter"),
    _c("command-mode", "Command mode", "Type a command (:apps, :machines APP, :logs …)", "colon", GLOBAL,
       "command_mode", "cmd"),
    _c("palette", "Command palette", "Search every command", "ctrl+p", GLOBAL, "command_palette"),
    _c("switch-app", "Switch app", "Choose the current app", "A", GLOBAL, "switch_app", "use", takes_arg=True),
    _c("switch-org", "Switch org", "Filter apps by organization", "O", GLOBAL, "switch_org", "org", takes_arg=True),
    _c("help", "Help", "List every binding and command", "question_mark", GLOBAL, "help", "h"),
    _c("back", "Back", "Close the dialog, clear the filter or go back", "escape", GLOBAL, "back"),
    _c("quit", "Quit", "Quit flytui", "q", GLOBAL, "quit", "q", "quit!"),
    # apps pane
    _c("app-open", "Open app", "Show the machines of the selected app", "enter", APPS, "open_selected"),
    _c("app-detail", "App details", "Status, machines, releases, IPs and URL of the app", "i", APPS, "detail"),
    _c("app-create", "Create app", "Create a new app (fly apps create)", "c", APPS, "create", mutating=True),
    _c("app-destroy", "Destroy app", "Destroy the app (type its name to confirm)", "ctrl+d", APPS, "destroy",
       mutating=True),
    _c("app-url", "Open URL", "Open https://APP.fly.dev in the browser", "o", APPS, "open_url"),
    # machines pane
    _c("machine-detail", "Machine details", "Config JSON, events and checks", "enter", MACHINES, "detail"),
    _c("machine-start", "Start", "Start the machine(s)", "s", MACHINES, "machine('start')", mutating=True),
    _c("machine-stop", "Stop", "Stop the machine(s)", "t", MACHINES, "machine('stop')", mutating=True),
    _c("machine-restart", "Restart", "Restart the machine(s)", "R", MACHINES, "machine('restart')", mutating=True),
    _c("machine-suspend", "Suspend", "Suspend the machine(s)", "z", MACHINES, "machine('suspend')", mutating=True),
    _c("machine-destroy", "Destroy", "Destroy the machine(s)", "ctrl+d", MACHINES, "machine('destroy')",
       mutating=True),
    _c("machine-mark", "Mark", "Mark/unmark the row for a bulk action", "space", MACHINES, "toggle_mark"),
    _c("machine-faults", "Faults only", "Show only machines that are not healthy", "f", MACHINES, "toggle_faults"),
    _c("machine-shell", "Shell", "Open fly ssh console on the selected machine in this terminal", "x", MACHINES,
       "app.open_shell", "ssh", "shell", mutating=True),
    _c("machine-logs", "Machine logs", "Tail the logs of the selected machine only (fly logs -i MACHINE)", "L",
       MACHINES, "app.open_logs(True)", "mlogs"),
    # secrets pane
    _c("secret-set", "Set secrets", "Set secrets (values go to flyctl on stdin)", "n", SECRETS, "set_secret",
       mutating=True),
    _c("secret-unset", "Unset secret", "Remove the selected secret", "ctrl+d", SECRETS, "unset_secret",
       mutating=True),
    _c("dburl-doctor", "DATABASE_URL doctor", "Check and fix the DATABASE_URL scheme", "b", SECRETS, "dburl"),
    # volumes pane
    _c("volume-destroy", "Destroy volume", "Destroy the selected volume", "ctrl+d", VOLUMES, "destroy_volume",
       mutating=True),
    # MPG clusters pane
    _c("cluster-detail", "Cluster details", "Status, databases and users of the cluster (fly mpg status)", "enter",
       CLUSTERS, "detail"),
    _c("cluster-proxy", "Proxy to cluster", "fly mpg proxy CLUSTER on a free local port (shown in the tunnels view)",
       "p", CLUSTERS, "proxy"),
    _c("cluster-attach", "Attach to app", "fly mpg attach CLUSTER -a APP: sets DATABASE_URL on the current app", "a",
       CLUSTERS, "attach", mutating=True),
    _c("cluster-detach", "Detach from app", "fly mpg detach CLUSTER -a APP (the DATABASE_URL secret stays)", "D",
       CLUSTERS, "detach", mutating=True),
    _c("cluster-destroy", "Destroy cluster", "Destroy the cluster and all its data (type its name to confirm)",
       "ctrl+d", CLUSTERS, "destroy", mutating=True),
    # command log pane
    _c("log-copy", "Copy command", "Copy the selected command line to the clipboard", "y", COMMAND_LOG,
       "copy_command"),
    _c("log-clear", "Clear log", "Forget the finished entries of the command log", "c", COMMAND_LOG, "clear_log"),
    # tunnels pane
    _c("tunnel-open", "Open tunnel", "fly proxy LOCAL:REMOTE -a APP (e.g. remote port 5432 for psql)", "n",
       TUNNELS, "open_tunnel"),
    _c("tunnel-close", "Close tunnel", "Stop the selected fly proxy", "ctrl+d", TUNNELS, "close_tunnel"),
    _c("tunnel-copy", "Copy connect command", "Copy the psql command line (or local address) of the tunnel", "y",
       TUNNELS, "copy_connect"),
    # releases pane
    _c("release-redeploy", "Redeploy release", "Redeploy the image of the selected release (rollback)", "R",
       RELEASES, "redeploy", "redeploy", mutating=True),
    # logs screen (actions run on the screen)
    _c("logs-follow", "Follow", "Follow the end of the log on/off", "f", LOGS, "screen.toggle_follow"),
    _c("logs-pause", "Pause", "Pause the view (new lines are counted, not lost)", "p", LOGS, "screen.toggle_pause"),
    *(_c(f"logs-level-{lv}", f"Level {lv}", f"Show/hide {lv} lines", str(i + 1), LOGS, f"screen.toggle_level({i})")
      for i, lv in enumerate(("error", "warn", "info", "debug", "trace"))),
    _c("logs-region", "Region", "Cycle the region filter", "r", LOGS, "screen.cycle_region"),
    _c("logs-machine", "Machine", "Cycle the machine filter", "m", LOGS, "screen.cycle_machine"),
    _c("logs-filter", "Filter", "Filter lines by regex (prefix ! to invert)", "slash", LOGS, "screen.prompt('filter')"),
    _c("logs-search", "Search", "Search by regex; n / N for next / previous", "ctrl+f", LOGS,
       "screen.prompt('search')"),
    _c("logs-next", "Next match", "Next search match", "n", LOGS, "screen.search_next"),
    _c("logs-prev", "Previous match", "Previous search match", "N", LOGS, "screen.search_prev"),
    _c("logs-wrap", "Wrap", "Wrap long lines on/off", "w", LOGS, "screen.toggle_wrap"),
    _c("logs-time", "Timestamps", "Timestamps on/off", "t", LOGS, "screen.toggle_timestamps"),
    _c("logs-save", "Save", "Save the visible (filtered) lines to a file", "s", LOGS, "screen.prompt('save')"),
    _c("logs-clear", "Clear", "Clear the buffer", "c", LOGS, "screen.clear"),
    # deploy screen
    _c("deploy-start", "Start deploy", "Start fly deploy with the form's options (d again, or enter in the form)", "d",
       DEPLOY, "screen.start", mutating=True),
    _c("deploy-transcript", "Transcript", "Show/hide flyctl's raw output", "t", DEPLOY, "screen.toggle_transcript"),
    _c("deploy-cancel", "Stop deploy", "Stop the running deploy: kill flyctl's process group (confirmed; ctrl+c too)",
       "x", DEPLOY, "screen.cancel_deploy"),
    _c("deploy-migrations", "Migrations", "After a deploy: open the migrations screen", "m", DEPLOY,
       "screen.migrations"),
    _c("deploy-releases", "Releases", "The releases view of the app (after a deploy: the new release on top)", "v",
       DEPLOY, "screen.releases"),
    # migrations screen (actions run on the screen; mutating ones are refused in read-only mode)
    _c("migrate-url", "Database URL", "Enter the database URL or $ENV_VAR (memory only)", "c", MIGRATIONS,
       "screen.prompt_url"),
    _c("migrate-url-app", "Read app DATABASE_URL", "Read DATABASE_URL from a running machine of the app", "F",
       MIGRATIONS, "screen.url_from_app"),
    _c("migrate-preview", "SQL preview", "Upgrade/downgrade SQL of the selected revision, with lint", "p",
       MIGRATIONS, "screen.preview"),
    _c("migrate-up", "Upgrade +1", "alembic upgrade +1 (preview, confirm, run)", "u", MIGRATIONS,
       "screen.migrate('up')", mutating=True),
    _c("migrate-head", "Upgrade head", "alembic upgrade head", "U", MIGRATIONS, "screen.migrate('head')",
       mutating=True),
    _c("migrate-heads", "Upgrade heads", "alembic upgrade heads (every branch)", "H", MIGRATIONS,
       "screen.migrate('heads')", mutating=True),
    _c("migrate-to", "Upgrade to selected", "alembic upgrade <selected revision>", "g", MIGRATIONS,
       "screen.migrate('to')", mutating=True),
    _c("migrate-down", "Downgrade -1", "alembic downgrade -1 (confirmation)", "b", MIGRATIONS,
       "screen.migrate('down')", mutating=True),
    _c("migrate-down-to", "Downgrade to selected", "alembic downgrade <selected revision> (confirmation)", "B",
       MIGRATIONS, "screen.migrate('down_to')", mutating=True),
    _c("migrate-stamp", "Stamp selected", "alembic stamp <selected> (no schema change; confirmation)", "S",
       MIGRATIONS, "screen.migrate('stamp')", mutating=True),
    _c("migrate-merge", "Merge heads", "alembic merge heads (writes a merge revision file)", "m", MIGRATIONS,
       "screen.merge_heads", mutating=True),
    _c("migrate-remote", "Remote mode", "Toggle running alembic inside a machine over SSH", "R", MIGRATIONS,
       "screen.toggle_remote"),
    _c("migrate-import-error", "History import error", "Why the history was read statically", "e", MIGRATIONS,
       "screen.show_import_error"),
    # issue 19: what the other Fly consoles have (flytui/ui/panes/{machine_ops,services,members}.py)
    _c("services", "Services & IPs", "Services of the current app (ports, handlers, checks, min running) and its "
       "IP addresses (or :services APP)", "6", VIEW, "show_view('services')", "svc", "ips", takes_arg=True),
    _c("members", "Org members", "Members of the current organization and their roles (fly orgs show)", "7", VIEW,
       "show_view('members')", "team", "org-members", "users"),
    _c("fleet", "Fleet", "Every account -> org -> app (accounts.toml): machines, min running, warnings", "8",
       VIEW, "show_view('fleet')", "accounts", "all-accounts"),
    _c("machine-cordon", "Cordon", "Take the machine(s) out of the proxy: no new traffic (fly machine cordon)", "c",
       MACHINES, "cordon(True)", "cordon", mutating=True),
    _c("machine-uncordon", "Uncordon", "Send traffic to the machine(s) again (fly machine uncordon)", "u", MACHINES,
       "cordon(False)", "uncordon", mutating=True),
    _c("machine-kill", "Kill", "SIGKILL the machine's processes now, no graceful stop (fly machine kill)", "K",
       MACHINES, "kill", "kill", mutating=True),
    _c("machine-signal", "Stop with signal", "Stop the machine(s) with a chosen signal (fly machine stop --signal)",
       "g", MACHINES, "signal", "signal", mutating=True),
    _c("machine-leases", "Leases", "Who holds a lease on the machines, until when (fly machine leases view)", "e",
       MACHINES, "leases", "leases"),
    _c("machine-lease-clear", "Clear lease", "Release the lease someone holds on the machine (fly machine leases "
       "clear; only for a stale one: its owner may still be working)", "E", MACHINES, "clear_lease", mutating=True),
    _c("app-restart", "Restart app", "Rolling restart of every started machine of the app (fly apps restart)", "R",
       APPS, "restart", mutating=True),
    _c("app-dashboard", "Open dashboard", "Open the app's page on the Fly dashboard (https://fly.io/apps/APP)", "D",
       APPS, "open_dashboard", "dashboard"),
    _c("services-open", "Open URL", "Open the app's public URL in the browser", "o", SERVICES, "open_url"),
    _c("services-dashboard", "Open dashboard", "Open the app's page on the Fly dashboard", "D", SERVICES,
       "open_dashboard"),
    _c("fleet-open", "Use account & app", "Make the row's account and app the console's current ones (a read-only "
       "account turns read-only mode on)", "enter", FLEET, "open"),
    _c("member-invite", "Invite member", "Invite someone by email to the organization (fly orgs invite)", "n",
       MEMBERS, "invite", "invite", mutating=True),
    _c("member-remove", "Remove member", "Remove the selected member from the organization (type the email to "
       "confirm; fly orgs remove)", "ctrl+d", MEMBERS, "remove", mutating=True),
)



def _k(id: str, title: str, help: str, key: str, group: str, action: str, *, show: bool = True,
       priority: bool = False) -> Command:
    return Command(id, title, help, key, (), group, False, action, False, show, priority)


#: keys bound by one dialog, form or screen and run there (not by name): see the module docstring
LOCAL_KEYS: tuple[Command, ...] = (
    # every dialog (ui/modals)
    _k("dialog-close", "Close", "Close the dialog; nothing is done", "escape", DIALOG, "cancel"),
    # view-only dialogs: app, machine and cluster details, help
    _k("detail-close", "Close", "Close the details (like esc)", "q", DETAIL, "cancel", show=False),
    _k("help-close", "Close help", "? again closes the help", "question_mark", HELP, "cancel", show=False),
    # yes/no confirmations (a typed-name confirmation takes only the typed name and enter)
    _k("confirm-yes", "Yes", "Confirm (when no name has to be typed)", "y", CONFIRM, "confirm_key", show=False),
    _k("confirm-no", "No", "Cancel, nothing is done", "n", CONFIRM, "cancel", show=False),
    # the set-secrets form
    _k("secret-reveal", "Reveal/mask", "Show or mask the typed values", "ctrl+r", SECRET_FORM, "reveal"),
    _k("secret-next-field", "Next field", "Next field", "tab", SECRET_FORM, "next_field", show=False,
       priority=True),
    _k("secret-previous-field", "Previous field", "Previous field", "shift+tab", SECRET_FORM, "previous_field",
       show=False, priority=True),
    _k("secret-name-done", "Name done", "From the name to its value", "enter", SECRET_FORM, "name_done",
       show=False, priority=True),
    _k("secret-name-equals", "Name done (=)", "NAME= moves to the value, like enter", "equals_sign", SECRET_FORM,
       "name_done", show=False, priority=True),
    # full screens (deploy, logs, migrations, doctor)
    _k("screen-back", "Back", "Close the screen (a running deploy must be stopped first; a running migration asks)",
       "escape", SCREEN, "close"),
    _k("deploy-stop-ctrl-c", "Stop deploy", "Like x: stop the running deploy (confirmed)", "ctrl+c", DEPLOY,
       "cancel_deploy", show=False, priority=True),
    _k("migrate-quit", "Quit", "Quit flytui (asks first while alembic runs)", "q", MIGRATIONS, "quit_asking",
       show=False),
    _k("migrate-reload", "Refresh", "Read the history and the database's revision again", "r", MIGRATIONS,
       "reload"),
    _k("doctor-rerun", "Re-run", "Run the checks again", "r", DOCTOR, "rerun"),
    _k("doctor-fix", "Fix", "Apply the selected check's one-key fix (or say what to do)", "f", DOCTOR, "fix"),
    _k("doctor-flytoml", "fly.toml", "Open the fly.toml editor", "t", DOCTOR, "open_flytoml"),
    _k("flytoml-back", "Back", "Leave edit mode, then close (unsaved changes: warned once, esc again discards)",
       "escape", FLYTOML, "close", priority=True),
    _k("flytoml-edit", "Edit", "Edit fly.toml", "e", FLYTOML, "edit"),
    _k("flytoml-save", "Save", "Validate, show the diff, write atomically", "ctrl+s", FLYTOML, "save",
       priority=True),
    _k("flytoml-reload", "Reload from disk", "Read fly.toml again", "ctrl+r", FLYTOML, "reload"),
    # the `:` command line
    _k("command-complete", "Complete", "Complete the command name", "tab", COMMAND_LINE, "complete", show=False),
)

#: every key of the console: help and the README table list these
ALL: tuple[Command, ...] = COMMANDS + LOCAL_KEYS

_BY_ID = {c.id: c for c in COMMANDS}


def get(command_id: str) -> Command:
    """The command with this id (KeyError otherwise)."""
    return _BY_ID[command_id]


def for_group(group: str) -> list[Command]:
    return [c for c in COMMANDS if c.group == group]


def key_for(cmd: Command, keymap: Mapping[str, str] | None = None) -> str | None:
    """The key of ``cmd`` after user keymap overrides (``keymap = {command_id: key}``)."""
    if keymap and cmd.id in keymap:
        return keymap[cmd.id]
    return cmd.key


_KEY_LABELS = {"at": "@", "slash": "/", "colon": ":", "question_mark": "?", "minus": "-", "space": "space",
               "escape": "esc", "enter": "enter", "equals_sign": "="}


def key_label(key: str | None) -> str:
    return "" if key is None else _KEY_LABELS.get(key, key)


def bindings(groups: Iterable[str], keymap: Mapping[str, str] | None = None) -> list:
    """Textual ``Binding`` objects for the commands of ``groups``; all go through ``app.command(id)``."""
    from textual.binding import Binding

    out = []
    for cmd in COMMANDS:
        key = key_for(cmd, keymap)
        if cmd.group in groups and key:
            show = cmd.group in PANE_GROUPS or cmd.id in ("refresh", "filter", "command-mode", "help", "quit")
            out.append(Binding(key, f"app.command('{cmd.id}')", cmd.title, show=show,
                               key_display=key_label(key), id=f"{cmd.group}.{cmd.id}"))
    return out


def local_bindings(groups: Iterable[str], keymap: Mapping[str, str] | None = None) -> list:
    """Textual ``Binding`` objects for the :data:`LOCAL_KEYS` of ``groups``: each runs its action on the widget
    (dialog, form, screen) that binds it."""
    from textual.binding import Binding

    out = []
    for cmd in LOCAL_KEYS:
        key = key_for(cmd, keymap)
        if cmd.group in groups and key:
            out.append(Binding(key, cmd.action, cmd.title, show=bool(cmd.show), priority=cmd.priority,
                               key_display=key_label(key), id=f"{cmd.group}.{cmd.id}"))
    return out


@dataclass(frozen=True)
class ParsedCommand:
    command: Command
    args: list[str] = field(default_factory=list)


class CommandParseError(ValueError):
    pass


def resolve(word: str, aliases: Mapping[str, str] | None = None) -> Command:
    """Resolve a ``:`` word: exact id/alias, user alias, then unique prefix."""
    word = word.strip().lower()
    if not word:
        raise CommandParseError("empty command")
    if aliases and word in aliases:
        word = aliases[word].split()[0]
    for cmd in COMMANDS:
        if word in cmd.names:
            return cmd
    matches = sorted({c.id for c in COMMANDS for n in c.names if n.startswith(word)})
    if len(matches) == 1:
        return _BY_ID[matches[0]]
    if not matches:
        raise CommandParseError(f"unknown command ':{word}' (press ? for the list)")
    raise CommandParseError(f"':{word}' is ambiguous: " + ", ".join(matches))


def parse(line: str, aliases: Mapping[str, str] | None = None) -> ParsedCommand:
    """Parse a ``:`` mode line, e.g. ``machines my-app`` or ``-``."""
    text = line.strip().lstrip(":").strip()
    if aliases:
        first = text.split(maxsplit=1)[0].lower() if text else ""
        if first in aliases:
            text = aliases[first] + text[len(first):]
    parts = text.split()
    if not parts:
        raise CommandParseError("empty command")
    cmd = resolve(parts[0])
    return ParsedCommand(cmd, parts[1:])


def complete(prefix: str) -> str | None:
    """Prefix completion for ``:`` mode: the first command id that starts with ``prefix``."""
    p = prefix.strip().lstrip(":").lower()
    if not p or " " in p:
        return None
    for cmd in COMMANDS:
        if cmd.id.startswith(p):
            return cmd.id
    return None


#: headings of the keys table (README, ``python -m flytui.ui.commands --markdown``), in registry order
GROUP_TITLES = {
    "view": "Views", "global": "Everywhere", "apps": "Apps pane", "machines": "Machines pane",
    "secrets": "Secrets pane", "volumes": "Volumes pane", "command-log": "Command log pane",
    "tunnels": "Tunnels pane", "releases": "Releases pane", "clusters": "MPG clusters pane",
    "services": "Services & IPs pane", "members": "Org members pane", "fleet": "Fleet pane", "logs": "Logs screen",
    "deploy": "Deploy screen",
    "migrations": "Migrations screen", "screen": "Every full screen (deploy, logs, migrations, doctor)",
    "doctor": "Doctor screen", "flytoml": "fly.toml editor", "dialog": "Every dialog",
    "detail": "Details dialogs (app, machine, cluster) and help", "help": "Help", "confirm": "Confirmations",
    "secret-form": "Set-secrets form", "command-line": "`:` command line",
}


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_keys() -> str:
    """The keys table of the README, generated from the registry (one section per group, registry order)."""
    groups: list[str] = []
    for cmd in ALL:
        if cmd.group not in groups:
            groups.append(cmd.group)
    local = set(LOCAL_KEYS)
    out: list[str] = []
    for group in groups:
        out += [f"**{GROUP_TITLES.get(group, group)}**", "", "| key | command | what it does |", "|---|---|---|"]
        for cmd in (c for c in ALL if c.group == group):
            key = f"`{key_label(cmd.key)}`" if cmd.key else ""
            names = "" if cmd in local else " ".join(f"`:{n}`" for n in dict.fromkeys(cmd.names))
            flag = " *(changes things; off in read-only mode)*" if cmd.mutating else ""
            out.append(f"| {key} | {(_md(cmd.title) + ' ' + names).strip()} | {_md(cmd.help)}{flag} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m flytui.ui.commands --markdown``: print the keys table for the README."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m flytui.ui.commands", description=main.__doc__)
    parser.add_argument("--markdown", action="store_true", help="print the keys table as Markdown")
    args = parser.parse_args(argv)
    if not args.markdown:
        parser.print_help()
        return 2
    print(markdown_keys(), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
