"""flytui vs fly-tui 0.1.0 (PyPI, ``ftui``) side by side on the same sandbox backend: time to first data on the
terminal and memory (RSS). Every number comes from this one run; ratios are flytui / fly-tui.

Usage: python bench/bench_vs_flytui.py [runs] [settle_seconds] [--flyctl-only]

What it does:
- fly-tui 0.1.0 requires Python >= 3.12: a temporary venv is made with ``python3.12`` and ``pip install
  fly-tui==0.1.0`` runs from the package index at bench time (nothing of it is kept or committed). Without
  python3.12 or without the index the bench says so and skips.
- One sandbox (flytui/sandbox) with app ``bench-app`` (3 machines). A ``fly`` shim first on PATH runs the sandbox
  flyctl: fly-tui calls ``fly`` from PATH (ftui/client.py: ``shutil.which("fly")``), and so does flytui (no
  ``--flyctl``). Both start in a folder whose ``fly.toml`` says ``app = "bench-app"`` (fly-tui passes no ``-a``:
  flyctl, and the sandbox flyctl, take the app from ./fly.toml), with an empty ``XDG_CONFIG_HOME``.
- flytui runs as users run it: its Machines API fast path pointed at the sandbox's API server
  (``FLY_FLAPS_BASE_URL``, as ``flytui --demo`` does; the server runs in this bench process). Its first read goes
  through flyctl like fly-tui's (the API warms up after the first data); later polls use the API.
  ``--flyctl-only`` turns the fast path off (config ``machines_api = false``).
- Each TUI runs in its own pseudo-terminal (160x40, TERM=xterm-256color), launched the same way, interleaved
  run by run. FIRST DATA: the moment the TUI has written every machine id of ``bench-app`` to its terminal
  (escape sequences stripped): fly-tui's machines table (``fly machines list --json``) and flytui's machines
  pane (``fly machine list --json``). Time from just before the launch.
- Memory: ``VmRSS`` of the TUI process (/proc) sampled every 0.25 s for ``settle`` seconds after the first data
  (both poll every 5 s by default): "steady" is the median of the second half of those samples, "peak" the
  kernel's ``VmHWM`` at the end. CPU of the TUI process and of its reaped children (flyctl processes) during the
  settle window, and the flyctl processes / API requests each made, are printed for context. Medians over the
  runs.
"""
from __future__ import annotations

import glob
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

APP = "bench-app"
COLS, ROWS = 160, 40
ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\|\x1b[@-Z\\-_=>]")
TICKS = os.sysconf("SC_CLK_TCK")


def find_python312() -> str | None:
    """A working python3.12: on PATH (a pyenv shim may exist but refuse), else a pyenv install."""
    candidates = [shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    for exe in candidates:
        if exe and subprocess.run([exe, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
                                  capture_output=True).returncode == 0:
            return exe
    return None


def install_fly_tui(tmp: Path) -> tuple[str | None, str]:
    """(path of ``ftui``, "") or (None, why it could not be installed)."""
    py = find_python312()
    if py is None:
        return None, "no working python3.12 (fly-tui 0.1.0 requires Python >= 3.12)"
    venv = tmp / "fly-tui-venv"
    made = subprocess.run([py, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        return None, f"python3.12 -m venv failed: {made.stderr.strip()[-300:]}"
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-q",
                          "fly-tui==0.1.0"], capture_output=True, text=True, timeout=600)
    ftui = venv / "bin" / "ftui"
    if pip.returncode != 0 or not ftui.exists():
        tail = [ln for ln in pip.stderr.splitlines() if not ln.startswith("WARNING: Location")][-3:]
        return None, "pip install fly-tui==0.1.0 failed (package index unavailable?): " + " | ".join(tail)
    return str(ftui), ""


class Backend:
    """The sandbox, its Machines API server (in this process), the ``fly`` shim and the project folder."""

    def __init__(self, tmp: Path, flyctl_only: bool) -> None:
        from flytui.sandbox.api_server import SandboxApiServer
        from flytui.sandbox.state import Sandbox

        self.dir = tmp / "sb"
        sb = Sandbox.init(self.dir, user_email="bench@example.com", org="personal")
        sb.create_app(APP, deployed=True)
        self.ids = [sb.add_machine(APP, state=s, region=r)["id"]
                    for s, r in (("started", "iad"), ("started", "ams"), ("stopped", "syd"))]
        self.api = SandboxApiServer(self.dir).start()
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        flyctl = shutil.which("flytui-sandbox-flyctl") or str(Path(sys.executable).parent / "flytui-sandbox-flyctl")
        shim = bin_dir / "fly"
        shim.write_text(f'#!/bin/sh\nexec "{flyctl}" "$@"\n')
        shim.chmod(0o755)
        self.project = tmp / "project"
        self.project.mkdir()
        (self.project / "fly.toml").write_text(f'app = "{APP}"\nprimary_region = "iad"\n')
        xdg = tmp / "xdg"
        (xdg / "flytui").mkdir(parents=True)
        if flyctl_only:
            (xdg / "flytui" / "config.toml").write_text("machines_api = false\n")
        env = {k: v for k, v in os.environ.items()
               if k not in ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN", "FLY_APP", "FLYTUI_FLYCTL", "COLUMNS", "LINES")}
        env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", FLYTUI_SANDBOX_DIR=str(self.dir),
                   FLY_CONFIG_DIR=str(self.dir), FLY_FLAPS_BASE_URL=self.api.url, XDG_CONFIG_HOME=str(xdg),
                   TERM="xterm-256color", HOME=str(tmp))
        self.env = env

    def close(self) -> None:
        self.api.stop()


def _proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])  # kB
    except OSError:
        pass
    return out


def _cpu(pid: int) -> float:
    """CPU seconds of ``pid`` plus its reaped children (utime, stime, cutime, cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / TICKS


def _become_terminal_owner() -> None:  # runs in the child: own session, the pty as controlling terminal
    import fcntl
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_tui(argv: list[str], backend: Backend, settle: float, timeout: float = 60.0) -> dict[str, float]:
    """Launch ``argv`` in a pty; first data (s), steady and peak RSS (MB), settle-window CPU (s)."""
    import fcntl
    import pty
    import struct
    import termios

    from flytui.sandbox.state import Sandbox

    calls0, requests0 = len(Sandbox(backend.dir).argv_log()), len(backend.api.requests)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    wanted = [i.encode() for i in backend.ids]
    state: dict[str, float] = {}
    buf = bytearray()
    stop = threading.Event()
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=backend.env,
                            cwd=str(backend.project), preexec_fn=_become_terminal_owner, close_fds=True)
    os.close(slave)

    def reader() -> None:  # drain the terminal (a TUI blocks when nobody reads) and watch for the ids
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            if "first" not in state:
                buf.extend(chunk)
                text = ANSI.sub(b"", bytes(buf))
                if all(w in text for w in wanted):
                    state["first"] = time.monotonic() - t0

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    try:
        deadline = t0 + timeout
        while "first" not in state:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = ANSI.sub(b"", bytes(buf))[-400:].decode("utf-8", "replace")
                raise RuntimeError(f"{argv[0]}: no machine ids on screen (exit {proc.returncode}); screen: {tail!r}")
            time.sleep(0.005)
        c0, samples, end = _cpu(proc.pid), [], time.monotonic() + settle
        while time.monotonic() < end and proc.poll() is None:
            rss = _proc_status(proc.pid).get("VmRSS")
            if rss:
                samples.append(rss)
            time.sleep(0.25)
        cpu = _cpu(proc.pid) - c0
        peak = _proc_status(proc.pid).get("VmHWM", 0)
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited during the settle window ({proc.returncode})")
    finally:
        stop.set()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        th.join(2)
        os.close(master)
    steady = statistics.median(samples[len(samples) // 2:]) if samples else 0
    return {"first": state["first"], "steady": steady / 1024, "peak": peak / 1024, "cpu": cpu,
            "flyctl": len(Sandbox(backend.dir).argv_log()) - calls0, "api": len(backend.api.requests) - requests0}


def main(runs: int = 3, settle: float = 11.0, flyctl_only: bool = False) -> dict[str, float] | None:
    import compileall

    compileall.compile_dir(str(ROOT / "flytui"), quiet=1)  # as pip install does (see bench_startup.py)
    with tempfile.TemporaryDirectory(prefix="flytui-vs-") as tmp_s:
        tmp = Path(tmp_s)
        ftui, why = install_fly_tui(tmp)
        if ftui is None:
            print(f"SKIPPED: {why}")
            return None
        backend = Backend(tmp, flyctl_only)
        try:
            flytui = [str(Path(sys.executable).parent / "flytui")]
            results: dict[str, list[dict[str, float]]] = {"flytui": [], "fly-tui": []}
            for _ in range(runs):  # interleaved: both see the same machine load
                results["fly-tui"].append(run_tui([ftui], backend, settle))
                results["flytui"].append(run_tui(flytui, backend, settle))
        finally:
            backend.close()

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    mode = "flyctl only" if flyctl_only else "polls through the sandbox Machines API after the first data"
    print(f"runs: {runs} each, interleaved (medians); settle {settle:.0f} s; {os.cpu_count()} cores; "
          f"flytui on Python {sys.version.split()[0]} ({mode}); fly-tui 0.1.0 on Python 3.12 (flyctl only)")
    out = {}
    for key, label, unit, scale in (("first", "first data", "ms", 1000), ("steady", "steady RSS", "MB", 1),
                                    ("peak", "peak RSS", "MB", 1), ("cpu", f"CPU in {settle:.0f} s", "ms", 1000)):
        a, b = med("flytui", key), med("fly-tui", key)
        out[key] = a / b if b else float("nan")
        print(f"{label:<14} flytui {a * scale:7.0f} {unit}   fly-tui {b * scale:7.0f} {unit}   ratio {out[key]:.2f}x")
    print(f"per run (launch to exit): flyctl processes flytui {med('flytui', 'flyctl'):.0f}, fly-tui "
          f"{med('fly-tui', 'flyctl'):.0f}; Machines API requests flytui {med('flytui', 'api'):.0f}, fly-tui "
          f"{med('fly-tui', 'api'):.0f}")
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 3, float(args[1]) if len(args) > 1 else 11.0, "--flyctl-only" in sys.argv)
