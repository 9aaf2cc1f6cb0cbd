"""``fly secrets list|set|import|unset|deploy`` (new STATUS format; ``* `` marks staged secrets).

``import`` and ``set NAME=-`` are ports of flyctl @ ad0172f (internal/command/secrets/parser.go, set.go,
import.go, deploy.go; helpers/stdin.go): every rule is commented with its source line, including the panic on
a lone quote, so tests of flytui's encoder run against what flyctl really does.
"""
from __future__ import annotations

import os
import random
import stat
import sys
from typing import Iterator

from flytui.sandbox.commands import Ctx, command, print_json, print_table
from flytui.sandbox.state import SandboxError, get_app, put_secret

STAGED_TEXT = ("Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the "
               "secrets to take effect.")


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


# ---- flyctl ad0172f: internal/command/secrets/parser.go, ported line by line -----------------------------
# Go strings are bytes: stdin is decoded with "surrogateescape" (one surrogate per invalid byte) so every
# operation below sees the same characters/bytes the Go code does; values are stored as the API's JSON
# would hold them (encoding/json turns each invalid byte into U+FFFD).

#: bufio.MaxScanTokenSize (bufio/scan.go): the Scanner's buffer never grows past 64 KiB.
MAX_SCAN_TOKEN_SIZE = 64 * 1024
#: unicode.IsSpace (bufio/scan.go isSpace documents the same set): what strings.TrimSpace trims.
GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
                     + "".join(chr(c) for c in range(0x2000, 0x200B)))


class GoPanic(Exception):
    """A Go runtime panic (flyctl's main.go recovers it: "Oops, something went wrong!", exit code 3)."""


def go_trim_space(s: str) -> str:
    """strings.TrimSpace: leading and trailing unicode.IsSpace runes removed."""
    start, end = 0, len(s)
    while start < end and s[start] in GO_SPACE:
        start += 1
    while end > start and s[end - 1] in GO_SPACE:
        end -= 1
    return s[start:end]


def _go_slice(s: str, lo: int, hi: int, where: int) -> str:
    """s[lo:hi] with Go's bounds check (a byte slice of an ASCII-delimited string) at parser.go line ``where``."""
    if hi < lo:
        raise GoPanic(f"runtime error: slice bounds out of range [{lo}:{hi}]", where)
    return s[lo:hi]


def scan_lines(data: bytes) -> Iterator[str]:
    """bufio.NewScanner(reader) with the default ScanLines split (bufio/scan.go)."""
    pos = 0
    while pos < len(data):                                  # ScanLines: atEOF && len(data) == 0 -> no token
        i = data.find(b"\n", pos)
        token = data[pos:] if i < 0 else data[pos:i]
        # Scan(): a token must fit the buffer (with its "\n"; without one, EOF is only seen after the buffer
        # filled): 64 KiB or more -> ErrTooLong, Scan() returns false. parser.go never calls scanner.Err().
        if len(token) >= MAX_SCAN_TOKEN_SIZE:
            return
        pos = len(data) if i < 0 else i + 1
        if token.endswith(b"\r"):                           # dropCR: one terminal \r
            token = token[:-1]
        yield token.decode("utf-8", "surrogateescape")      # scanner.Text()


def parse_secrets(data: bytes) -> dict[str, str]:
    """parseSecrets(reader) of parser.go @ ad0172f; raises SandboxError/GoPanic like the Go code fails."""
    secrets: dict[str, str] = {}                             # parser.go:16
    singleline, multiline = 0, 1                             # parser.go:10-13 (iota)
    parser_state = singleline                                # parser.go:18
    parsed_key = ""                                          # parser.go:19
    parsed_val: list[str] = []                               # parser.go:20 strings.Builder
    for line in scan_lines(data):                            # parser.go:22-23
        if parser_state == singleline:                       # parser.go:25
            # parser.go:27 skip comments and empty lines
            if line.startswith("#") or go_trim_space(line) == "":
                continue
            key, sep, value = line.partition("=")            # parser.go:31 strings.Cut(line, "=")
            if not sep:                                      # parser.go:32-33
                raise SandboxError("Failed to parse secrets from stdin: Secrets must be provided as NAME=VALUE "
                                   f"pairs ({line} is invalid)")
            key = go_trim_space(key)                         # parser.go:35
            value = value.lstrip(" ")                        # parser.go:36 strings.TrimLeft(value, " ")
            head, hsep, _ = value.partition("#")             # parser.go:37 strings.Cut(value, "#")
            if hsep and head.count('"') % 2 == 0:            # parser.go:38
                value = head.rstrip(" ")                     # parser.go:39 strings.TrimRight(l, " ")
            if value.startswith('"""') and value.endswith('"""') and len(value) >= 6:   # parser.go:42
                secrets[key] = value[3:len(value) - 3]       # parser.go:44-45 single-line triple quotes
            elif value.startswith('"""'):                    # parser.go:46 switch to multiline
                parser_state = multiline                     # parser.go:48
                parsed_key = key                             # parser.go:49
                parsed_val.append(value[3:])                 # parser.go:50 TrimPrefix(value, `"""`)
                parsed_val.append("\n")                      # parser.go:51
            else:
                if value.startswith('"') and value.endswith('"'):      # parser.go:53
                    value = _go_slice(value, 1, len(value) - 1, 55)   # parser.go:55 (lone `"` panics)
                elif value.startswith("'") and value.endswith("'"):    # parser.go:56
                    value = _go_slice(value, 1, len(value) - 1, 58)   # parser.go:58 (lone `'` panics)
                secrets[key] = value                         # parser.go:60
        else:                                                # parser.go:62 parserStateMultiline
            if line.endswith('"""'):                         # parser.go:63 strings.CutSuffix(line, `"""`)
                parsed_val.append(line[:-3])                 # parser.go:65
                secrets[parsed_key] = "".join(parsed_val)    # parser.go:66
                parsed_val = []                              # parser.go:67
                parser_state = singleline                    # parser.go:68
                parsed_key = ""                              # parser.go:69
            else:
                parsed_val.append(line + "\n")               # parser.go:71
    return secrets                                           # parser.go:77 (an open multiline value is lost)


def read_stdin(data: bytes, max_length: int) -> str:
    """helpers.ReadStdin(maxLength) of helpers/stdin.go @ ad0172f."""
    # stdin.go:24-37: ReadRune per rune; an invalid byte is one U+FFFD of size 1; error once bytesRead > max
    if len(data) > max_length:
        raise ValueError(f"Input exceeded max length of {max_length} bytes")
    return go_trim_space(data.decode("utf-8", "surrogateescape"))    # stdin.go:39 strings.TrimSpace


def has_piped_stdin() -> bool:
    """helpers.HasPipedStdin (stdin.go:43-47): stdin is not a character device."""
    try:
        return not stat.S_ISCHR(os.fstat(0).st_mode)
    except OSError:
        return False


def api_text(value: str) -> str:
    """The string as the Machines API stores it (encoding/json: invalid UTF-8 -> U+FFFD)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def go_panic_exit(ctx: Ctx, exc: GoPanic) -> int:
    """flyctl main.go:37-43 recover() -> sentry.Recover (sentry.go:252-272) prints on stdout; exit code 3."""
    sys.stdout.write("Oops, something went wrong! Could you try that again?\n\n"
                     f"{exc.args[0]}\ngoroutine 1 [running]:\nruntime/debug.Stack()\n"
                     "github.com/superfly/flyctl/internal/command/secrets.parseSecrets(...)\n"
                     f"\t/flyctl/internal/command/secrets/parser.go:{exc.args[1]}\n\n")
    sys.stdout.flush()
    return 3


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
    """runSet of set.go @ ad0172f."""
    if not ctx.args:                                         # set.go:33 cobra.MinimumNArgs(1)
        raise SandboxError("requires at least 1 arg(s), only received 0")
    secrets: dict[str, str] = {}
    for arg in ctx.args:                                     # cmdutil.ParseKVStringsToMap (flags.go:9-21)
        name, eq, value = arg.partition("=")
        if not eq:
            raise SandboxError(f"could not parse secrets: '{arg}': must be in the format NAME=VALUE")
        secrets[name] = value
    stdin = [ctx.stdin or b""]                               # os.Stdin: the first ReadStdin drains it
    keys = list(secrets)
    random.shuffle(keys)                                     # set.go:54 `for k, v := range secrets`: Go map order
    for k in keys:
        if secrets[k] == "-":                                # set.go:55
            if not has_piped_stdin():                        # set.go:56-58
                raise SandboxError(f"secret `{k}` expects standard input but none provided")
            try:
                inval = read_stdin(stdin[0], 64 * 1024)      # set.go:59 helpers.ReadStdin(64 * 1024)
            except ValueError as exc:
                raise SandboxError(f"error reading stdin for '{k}': {exc}") from None   # set.go:60-62
            stdin[0] = b""
            secrets[k] = inval                               # set.go:63
    if not secrets:                                          # set.go:67-69
        raise SandboxError("requires at least one SECRET=VALUE pair")
    return _apply(ctx, ctx.app_name(), {k: api_text(v) for k, v in secrets.items()})


@command("secrets import")
def secrets_import(ctx: Ctx) -> int:
    """runImport of import.go @ ad0172f."""
    try:
        parsed = parse_secrets(ctx.stdin or b"")             # import.go:44 parseSecrets(os.Stdin)
    except GoPanic as exc:
        return go_panic_exit(ctx, exc)
    if not parsed:                                           # import.go:48-50
        raise SandboxError("requires at least one SECRET=VALUE pair")
    return _apply(ctx, ctx.app_name(), {k: api_text(v) for k, v in parsed.items()})


@command("secrets unset")
def secrets_unset(ctx: Ctx) -> int:
    if not ctx.args:
        raise SandboxError("requires at least 1 arg(s), only received 0")
    return _apply(ctx, ctx.app_name(), {n: None for n in ctx.args})


@command("secrets deploy")
def secrets_deploy(ctx: Ctx) -> int:
    """runDeploy of deploy.go @ ad0172f: refuses an app that was never deployed or has no machines."""
    app_name = ctx.app_name()
    app = get_app(ctx.sb.read(), app_name)
    live = [m for m in app["machines"] if m.get("state") not in ("destroyed", "destroying")]
    if not app.get("deployed") or not live:                  # deploy.go:54-60 flyerr.GenericErr, printed by
        raise SandboxError(                                  # cli.go printError: Error, description, suggestion
            "no machines available to deploy\n"
            "'fly secrets deploy' will only work if the app has been deployed and there are machines available\n\n"
            "Try 'fly deploy' first\n")
    return _rollout(ctx, app_name)                           # deploy.go:62 DeploySecrets(Stage: false)
