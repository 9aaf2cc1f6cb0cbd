"""Time to FIRST DATA of flytui (the current app's machines on screen) vs a bare Textual app's first paint.

Usage: python bench/bench_startup.py [runs]. Every number comes from this one run: the parent launches fresh
interpreters one after the other (interleaved, so all see the same machine load) and prints medians and ratios
(goal: first data <= 1.5x the bare first paint).

- bare:        a Textual app with one Static, until its first frame was refreshed.
- first frame: flytui's main screen (header, status line, the machines pane's table, footer) painted once,
               against a client whose calls never return (only the shell's own cost).
- first data:  ``flytui --app bench-app`` as the CLI builds it (FlyctlRunner + FlyClient), flyctl answering at
               once (a /bin/sh stand-in printing the verbatim ``fly machine list --json`` sample
               tests/fixtures/flyctl/recon-machine-list.json), until the machine rows are on screen.

Each child reports wall time since the parent's launch timestamp and its CPU time. The heavy modules
(sqlalchemy, alembic, psycopg, asyncssh, httpx) must not be imported before the first frame / first data.

flytui's bytecode is compiled first (``compileall``, into the git-ignored ``__pycache__``), as ``pip install``
does: where ``PYTHONDONTWRITEBYTECODE`` is set (this project's machines) an editable checkout would otherwise
compile every flytui module from source on every launch, while Textual's bytecode came with its install.
"""
from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "flyctl"

BARE = '''
import time, sys
t0 = float(sys.argv[1])
from textual.app import App
from textual.widgets import Static
class A(App):
    def compose(self):
        yield Static("x")
    def on_mount(self):
        self.call_after_refresh(lambda: (print(time.time() - t0, time.process_time()), self.exit()))
import asyncio
async def main():
    async with A().run_test() as p:
        await p.pause(0.2)
asyncio.run(main())
'''

HEAVY = '("sqlalchemy", "alembic", "psycopg", "asyncssh", "httpx")'

FIRST_FRAME = '''
import time, sys, asyncio
t0 = float(sys.argv[1])
import flytui.ui.app as appmod
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
class Main(appmod.MainScreen):
    def on_mount(self):
        def painted():
            print(time.time() - t0, time.process_time())
            print("heavy:" + ",".join(m for m in HEAVY if m in sys.modules))
            self.app.exit()
        self.call_after_refresh(painted)
appmod.MainScreen = Main
class Never:  # a FlyClient whose calls never answer (the attributes FlytuiApp reads directly are plain)
    rate_gate = None
    runner = None
    api = None
    def __getattr__(self, name):
        async def call(*a, **k):
            await asyncio.sleep(3600)
        return call
async def main():
    async with FlytuiApp(Config(), Never(), current_app="bench-app").run_test() as p:
        await p.pause(0.2)
asyncio.run(main())
'''.replace("HEAVY", HEAVY)

FIRST_DATA = '''
import time, sys, asyncio
t0 = float(sys.argv[1])
from flytui.cli import _make_client
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
import flytui.ui.panes.machines as machines_mod
done = asyncio.Event()
orig = machines_mod.MachinesPane.after_load
def after_load(self, extra):
    orig(self, extra)
    def shown():
        if self.table.rows_data and not done.is_set():
            print(time.time() - t0, time.process_time(), len(self.table.rows_data))
            print("heavy:" + ",".join(m for m in HEAVY if m in sys.modules))
            done.set()
    self.call_after_refresh(shown)
machines_mod.MachinesPane.after_load = after_load
async def main():
    client = _make_client(sys.argv[2], None)
    app = FlytuiApp(Config(refresh_interval=0), client, current_app="bench-app")
    async with app.run_test() as p:
        await asyncio.wait_for(done.wait(), 30)
        app.exit()
asyncio.run(main())
'''.replace("HEAVY", HEAVY)


def fake_flyctl(directory: Path) -> str:
    """A flyctl stand-in that answers at once (no Python start): verbatim samples from tests/fixtures/flyctl."""
    script = directory / "fly"
    machines, version = FIXTURES / "recon-machine-list.json", FIXTURES / "recon-version.json"
    script.write_text(f"""#!/bin/sh
case "$1 $2" in
  "machine list") cat {shlex.quote(str(machines))} ;;
  "version --json") cat {shlex.quote(str(version))} ;;
  "auth whoami") echo '{{"email":"bench@example.com"}}' ;;
  "auth token") echo 'bench-token' ;;
  *) echo '[]' ;;
esac
""")
    script.chmod(0o755)
    return str(script)


def measure(code: str, *extra: str) -> tuple[float, float]:
    """(wall seconds since launch, CPU seconds of the child) at the child's mark."""
    env = {**os.environ, "FLY_API_TOKEN": "", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, str(time.time()), *extra], capture_output=True, text=True,
                         check=True, env=env, cwd=str(ROOT))
    lines = out.stdout.strip().splitlines()
    for line in lines[1:]:
        if line.startswith("heavy:") and line != "heavy:":
            raise SystemExit(f"heavy modules imported before the mark: {line[6:]}")
    wall, cpu = lines[0].split()[:2]
    return float(wall), float(cpu)


def main(runs: int = 7) -> float:
    import compileall

    compileall.compile_dir(str(ROOT / "flytui"), quiet=1)  # what pip install does; __pycache__ is git-ignored
    bare, frame, data = [], [], []
    with tempfile.TemporaryDirectory(prefix="flytui-bench-") as tmp:
        fly = fake_flyctl(Path(tmp))
        for _ in range(runs):  # interleaved, so all three see the same machine load
            bare.append(measure(BARE))
            frame.append(measure(FIRST_FRAME))
            data.append(measure(FIRST_DATA, fly))

    def med(samples: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)

    (bw, bc), (fw, fc), (dw, dc) = med(bare), med(frame), med(data)
    print(f"runs: {runs} each (medians), one process tree")
    print(f"bare textual first paint:  wall {bw * 1000:.0f} ms, cpu {bc * 1000:.0f} ms")
    print(f"flytui first frame:        wall {fw * 1000:.0f} ms, cpu {fc * 1000:.0f} ms   "
          f"ratio wall {fw / bw:.2f}x, cpu {fc / bc:.2f}x")
    print(f"flytui first data:         wall {dw * 1000:.0f} ms, cpu {dc * 1000:.0f} ms   "
          f"ratio wall {dw / bw:.2f}x, cpu {dc / bc:.2f}x (goal <= 1.5x)")
    return dw / bw


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
