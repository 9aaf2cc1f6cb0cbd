"""A tiny scriptable stand-in for flyctl, used only by tests/test_runner.py.

Usage: ``fake_flyctl.py MODE [ARGS...]`` (the runner may append ``--json``; it is ignored).
Everything else in the test suite uses the real sandbox emulator; this fake exists for the
cases the emulator should never do on purpose: hangs, ignored signals, grandchildren, floods.

Modes:
  print TEXT...                 print each TEXT on its own line, exit 0
  env NAME...                   print {"env": {NAME: value}, "stdin_isatty": bool, "argv": [...]} as JSON
  stdin                         copy stdin to stdout
  fail CODE FILE                write FILE's content to stderr, exit CODE
  stdout-file FILE [ERRFILE]    write FILE to stdout (and ERRFILE to stderr), exit 0
  json-stream N                 a warning on stderr, a non-JSON line, then N pretty objects back to back
  sleep SECONDS [MARKER]        print "ready", sleep
  ignore-term [MARKER]          ignore SIGTERM, print "ready", sleep forever
  grandchild [MARKER]           start a grandchild (same process group, MARKER in its argv), print
                                "ready <pid>", hang
  grandchild-exit [MARKER]      start a SIGTERM-ignoring grandchild holding our pipes, then exit 0 at once
  flood N                       N numbered lines on stdout and N//10 on stderr, as fast as possible
  huge BYTES                    BYTES 'x' without newline, then "\\nend\\n"
  invalid-utf8                  bytes that are not UTF-8, and a CRLF line
  late-ready SECONDS TEXT       print noise, sleep SECONDS, print TEXT, sleep forever
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


def _args() -> list[str]:
    return [a for a in sys.argv[1:] if a not in ("--json", "-j")]


def _sleep_forever() -> None:
    while True:
        time.sleep(3600)


def _grandchild(marker: str, ignore_term: bool) -> subprocess.Popen[bytes]:
    code = "import signal,time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "while True: time.sleep(3600)\n"
    # same session/process group as us: the runner must kill it with the group
    return subprocess.Popen([sys.executable, "-c", code, marker])


def main() -> int:
    args = _args()
    mode, rest = args[0], args[1:]
    out = sys.stdout
    if mode == "print":
        out.write("".join(f"{t}\n" for t in rest))
    elif mode == "env":
        json.dump({"env": {n: os.environ.get(n) for n in rest}, "stdin_isatty": os.isatty(0),
                   "stdin_readable": _stdin_state(), "argv": sys.argv[1:]}, out)
    elif mode == "stdin":
        out.write(sys.stdin.read())
    elif mode == "fail":
        with open(rest[1], encoding="utf-8") as fh:
            sys.stderr.write(fh.read())
        return int(rest[0])
    elif mode == "stdout-file":
        with open(rest[0], encoding="utf-8") as fh:
            out.write(fh.read())
        if len(rest) > 1:
            with open(rest[1], encoding="utf-8") as fh:
                sys.stderr.write(fh.read())
    elif mode == "json-stream":
        sys.stderr.write("WARN The running flyctl agent (v0.1.0) is older than the current flyctl (v0.2.50).\n")
        out.write("Update available 0.2.50 -> 0.3.0.\n")
        for i in range(int(rest[0])):
            out.write(json.dumps({"level": "info", "message": f"line {i}", "meta": {"Event": {"Provider": "app"}}},
                                 indent=4) + "\n")
    elif mode == "sleep":
        print("ready", flush=True)
        time.sleep(float(rest[0]))
    elif mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        _sleep_forever()
    elif mode == "grandchild":
        child = _grandchild(rest[0] if rest else "fake-grandchild", ignore_term=False)
        print(f"ready {child.pid}", flush=True)
        _sleep_forever()
    elif mode == "grandchild-exit":
        child = _grandchild(rest[0] if rest else "fake-grandchild", ignore_term=True)
        print(f"ready {child.pid}", flush=True)
        time.sleep(0.2)  # let it install its SIGTERM handler
        return 0
    elif mode == "flood":
        n = int(rest[0])
        buf_out = sys.stdout.buffer
        buf_out.write(b"".join(b"out %d\n" % i for i in range(n)))
        sys.stderr.buffer.write(b"".join(b"err %d\n" % i for i in range(n // 10)))
    elif mode == "huge":
        sys.stdout.buffer.write(b"x" * int(rest[0]) + b"\nend\n")
    elif mode == "invalid-utf8":
        sys.stdout.buffer.write(b"caf\xe9 \xff\xfe ok\nwindows line\r\n")
    elif mode == "late-ready":
        print("Starting agent...", flush=True)
        time.sleep(float(rest[0]))
        print(rest[1], flush=True)
        _sleep_forever()
    else:
        sys.stderr.write(f"Error: unknown mode {mode}\n")
        return 2
    out.flush()
    return 0


def _stdin_state() -> str:
    """'devnull' when stdin is /dev/null, 'pipe' for a pipe, else the st_mode."""
    import stat

    st = os.fstat(0)
    if stat.S_ISFIFO(st.st_mode):
        return "pipe"
    if stat.S_ISCHR(st.st_mode) and os.path.samestat(st, os.stat(os.devnull)):
        return "devnull"
    return oct(st.st_mode)


if __name__ == "__main__":
    sys.exit(main())
