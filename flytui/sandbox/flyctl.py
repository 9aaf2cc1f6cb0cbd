"""``flytui-sandbox-flyctl``: a flyctl emulator faithful to real flyctl's argv, outputs and exit codes.

State lives in ``$FLYTUI_SANDBOX_DIR`` (see :mod:`flytui.sandbox.state`). Every invocation is appended
to ``argv.log``; faults from ``faults.json`` are applied before the command runs. Exit codes: 0 ok,
1 any error (``Error: ...`` on stderr), 127 on SIGINT, 126 on a deadline.
"""
from __future__ import annotations

import random
import signal
import sys
import time

from flytui.sandbox import commands as C
from flytui.sandbox.state import Sandbox, SandboxError, sandbox_dir_from_env, ulid_like

PAYMENT_REQUIRED = ("We need your payment information to continue! Add a credit card or buy credit: "
                    "https://fly.io/dashboard/personal/billing")


def _load_commands() -> None:
    from flytui.sandbox.commands import basic, machines, net, postgres, secrets, logs, deploy, mpg, parity  # noqa: F401


STDIN_KEYS = {"secrets import", "secrets set"}


def apply_fault(ctx: C.Ctx, fault: dict) -> int | None:
    """Apply an injected fault; returns an exit code to stop with, or None to run the command."""
    if fault.get("latency"):
        time.sleep(float(fault["latency"]))
    if fault.get("hang"):
        while True:
            time.sleep(3600)
    if fault.get("logged_out"):
        raise SandboxError(C.NOT_LOGGED_IN)
    if fault.get("payment_required"):
        raise SandboxError(PAYMENT_REQUIRED)
    if fault.get("rate_limited"):
        what = {"machine": "list machines", "apps": "list apps", "secrets": "list secrets"}.get(
            ctx.key.split()[0], "complete request")
        raise SandboxError(f"failed to {what}: rate limit exceeded (Request ID: {ulid_like()}-iad)")
    if fault.get("garbage"):
        junk = random.choice(["<html><body>502 Bad Gateway</body></html>", "panic: runtime error: index out of range",
                              "\x00\x1b[31m\u2603 not json {{{", "null}{"])
        sys.stdout.write(junk + "\n" + "".join(random.choice("}{][#@!") for _ in range(32)) + "\n")
        return 0
    if fault.get("fail") is not None:
        text = str(fault["fail"])
        sys.stderr.write((text if text.startswith("Error") else f"Error: {text}") + "\n")
        return int(fault.get("exit", 1))
    return None


def run(argv: list[str]) -> int:
    """Run one flyctl invocation (argv without the program name); returns the exit code."""
    exe = "flyctl"
    sb = Sandbox(sandbox_dir_from_env())
    key, rest, raw = C.split_command(argv)
    stdin_data: bytes | None = None
    if key in STDIN_KEYS and (key != "secrets set" or any(a.endswith("=-") for a in rest)):
        stdin_data = sys.stdin.buffer.read()
    sb.log_argv(argv, None if stdin_data is None else len(stdin_data))
    if not argv:
        sys.stdout.write("This is flyctl, the Fly.io command line interface.\n\nUsage:\n  flyctl [command]\n")
        return 0
    _load_commands()
    if key is None:
        if raw in C.GROUPS and not any(not a.startswith("-") for a in rest):
            sys.stdout.write(f"Usage:\n  flyctl {raw} [command]\n\nRun 'flyctl {raw} --help' for usage.\n")
            return 0
        key = f"{raw} {rest[0]}" if rest else raw
    if key not in C.COMMANDS:
        parent, _, word = key.rpartition(" ")
        parent = f"flyctl {parent}" if parent else "flyctl"
        sys.stderr.write(f'Error: unknown command "{word}" for "{parent}"\n')
        sys.stdout.write(f"Run '{parent} --help' for usage.\n")
        return 1
    flags, pos = C.parse_flags(key, rest)
    ctx = C.Ctx(sb=sb, key=key, exe=exe, args=pos, flags=flags, stdin=stdin_data)
    targets = [*pos, *(str(flags[f]) for f in ("machine", "instance") if isinstance(flags.get(f), str))]
    fault = sb.take_fault(key, targets)
    ctx.fault = fault
    if fault:
        code = apply_fault(ctx, fault)
        if code is not None:
            return code
    if key not in C.NO_AUTH and not sb.read().get("user"):
        raise SandboxError(C.NOT_LOGGED_IN)
    if key not in C.NO_AUTH:
        from flytui.sandbox.commands.parity import scope_to_account

        scope_to_account(ctx)  # FLY_ACCESS_TOKEN / FLY_API_TOKEN of another account (flyctl's config.go order)
    return C.COMMANDS[key](ctx)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)

    def _term(signum: int, frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, _term)
    # flyctl traps SIGINT and SIGTERM (main.go newContext: signal.NotifyContext(os.Interrupt, SIGTERM) @ ad0172f),
    # and Go's signal.Notify takes the signal even when it was inherited ignored: a flyctl started from a
    # non-interactive shell's background job (SIGINT ignored there) still stops on Ctrl-C / SIGINT. Python
    # would keep an inherited SIG_IGN, so install the handler explicitly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = run(args)
    except SandboxError as exc:
        if exc.stdout:
            sys.stdout.write(exc.stdout)
            sys.stdout.flush()
        sys.stderr.write(f"Error: {exc.message}\n")
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 127
    except BrokenPipeError:
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return code


if __name__ == "__main__":
    sys.exit(main())
