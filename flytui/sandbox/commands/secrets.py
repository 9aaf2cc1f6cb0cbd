"""``fly secrets list|set|import|unset|deploy`` (new STATUS format; ``* `` marks staged secrets)."""
from __future__ import annotations

import re

from flytui.sandbox.commands import Ctx, command, print_json, print_table
from flytui.sandbox.state import SandboxError, get_app, put_secret

STAGED_TEXT = ("Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the "
               "secrets to take effect.")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@command("secrets list")
def secrets_list(ctx: Ctx) -> int:
    app = get_app(ctx.sb.read(), ctx.app_name())
    items = sorted(app["secrets"].items())
    if ctx.json:
        print_json([{"name": n, "digest": s["digest"], "status": s["status"]} for n, s in items])
        return 0
    rows = [[("* " if s["status"] == "Staged" else "") + n, s["digest"], s["status"]] for n, s in items]
    print_table(["Name", "Digest", "Status"], rows)
    staged = sum(1 for _, s in items if s["status"] == "Staged")
    if staged:
        noun = "secret" if staged == 1 else "secrets"
        verb = "is" if staged == 1 else "are"
        ctx.out(f"There {verb} {staged} {noun} not deployed. Deploy with `fly secrets deploy` to make them available.")
    return 0


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse ``NAME=VALUE`` lines: quotes, ``\"\"\"`` multiline values, comments and blank lines."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        name = name.strip()
        if not eq or not _NAME.fullmatch(name):
            raise SandboxError(f"Failed to parse secrets from stdin: invalid line {line.split('=')[0]!r}: "
                               "expected NAME=VALUE")
        value = value.strip()
        if value.startswith('"""'):
            rest = value[3:]
            if rest.endswith('"""') and len(rest) >= 3:
                out[name] = rest[:-3]
                continue
            parts = [rest] if rest else []
            while True:
                if i >= len(lines):
                    raise SandboxError(f"Failed to parse secrets from stdin: unterminated multiline value for {name}")
                nxt = lines[i]
                i += 1
                if nxt.rstrip().endswith('"""'):
                    parts.append(nxt.rstrip()[:-3])
                    break
                parts.append(nxt)
            out[name] = "\n".join(parts) if parts and parts[-1] else "\n".join(parts[:-1]) if parts else ""
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            inner = value[1:-1]
            out[name] = inner.replace("\\n", "\n").replace('\\"', '"') if value[0] == '"' else inner
        else:
            out[name] = value
    return out


def _apply(ctx: Ctx, app_name: str, changes: dict[str, str | None]) -> int:
    """Store changes, then stage them or roll them out like flyctl."""
    stage = bool(ctx.flag("stage"))
    with ctx.sb.transaction() as st:
        app = get_app(st, app_name)
        never = not app["deployed"] and not app["machines"]
        for name, value in changes.items():
            if value is None:
                app["secrets"].pop(name, None)
            else:
                put_secret(app, name, value, staged=stage or never)
    if stage:
        ctx.out(STAGED_TEXT)
        return 0
    if never:
        ctx.out("Secrets are staged for the first deployment")
        return 0
    return _rollout(ctx, app_name)


def _rollout(ctx: Ctx, app_name: str) -> int:
    from flytui.sandbox.transcripts import rolling_update

    with ctx.sb.transaction() as st:
        for s in get_app(st, app_name)["secrets"].values():
            s["status"] = "Deployed"
    rolling_update(ctx, app_name, wait=not ctx.flag("detach"))
    return 0


@command("secrets set")
def secrets_set(ctx: Ctx) -> int:
    changes: dict[str, str | None] = {}
    for arg in ctx.args:
        name, eq, value = arg.partition("=")
        if not eq or not name:
            raise SandboxError("requires at least one SECRET=VALUE pair")
        if value == "-":
            if not ctx.stdin:
                raise SandboxError(f"secret `{name}` expects standard input but none provided")
            value = ctx.stdin.decode("utf-8", "replace")
        changes[name] = value
    if not changes:
        raise SandboxError("requires at least one SECRET=VALUE pair")
    return _apply(ctx, ctx.app_name(), changes)


@command("secrets import")
def secrets_import(ctx: Ctx) -> int:
    parsed = parse_dotenv((ctx.stdin or b"").decode("utf-8", "replace"))
    if not parsed:
        raise SandboxError("requires at least one SECRET=VALUE pair")
    return _apply(ctx, ctx.app_name(), dict(parsed))


@command("secrets unset")
def secrets_unset(ctx: Ctx) -> int:
    if not ctx.args:
        raise SandboxError("requires at least 1 arg(s), only received 0")
    return _apply(ctx, ctx.app_name(), {n: None for n in ctx.args})


@command("secrets deploy")
def secrets_deploy(ctx: Ctx) -> int:
    app_name = ctx.app_name()
    app = get_app(ctx.sb.read(), app_name)
    if not app["machines"]:
        ctx.out("Secrets are staged for the first deployment")
        return 0
    return _rollout(ctx, app_name)
