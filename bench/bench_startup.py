"""Time to first frame of flytui vs a bare Textual app, measured in the same run (fresh interpreters).

Usage: python bench/bench_startup.py [runs]. Prints both medians and the ratio (goal <= 1.5x).
flytui runs against a client whose calls never return, so only the shell's own cost is measured.

"First frame" is measured honestly: for flytui, after the main screen (header, status line, the first pane's
table, footer) has been composed, laid out and refreshed once; for the bare app, after its screen has. Each
child reports wall time since the parent's launch timestamp and the CPU time of the process (interpreter
start + imports + first frame). On a busy machine the wall ratio is noisy; the CPU ratio is the stable one.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

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

FLYTUI = '''
import time, sys, asyncio
t0 = float(sys.argv[1])
import flytui.ui.app as appmod
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
class Main(appmod.MainScreen):
    def on_mount(self):
        def painted():
            print(time.time() - t0, time.process_time())
            heavy = [m for m in ("sqlalchemy", "alembic", "psycopg", "asyncssh", "httpx") if m in sys.modules]
            print("heavy:" + ",".join(heavy))
            self.app.exit()
        self.call_after_refresh(painted)
appmod.MainScreen = Main
class Never:
    rate_gate = None
    def __getattr__(self, name):
        async def call(*a, **k):
            await asyncio.sleep(3600)
        return call
async def main():
    async with FlytuiApp(Config(), Never()).run_test() as p:
        await p.pause(0.2)
asyncio.run(main())
'''


def measure(code: str) -> tuple[float, float]:
    """(wall seconds since launch, CPU seconds of the child) at its first frame."""
    out = subprocess.run([sys.executable, "-c", code, str(time.time())], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    for line in lines[1:]:
        if line.startswith("heavy:") and line != "heavy:":
            raise SystemExit(f"heavy modules imported before the first frame: {line[6:]}")
    wall, cpu = lines[0].split()
    return float(wall), float(cpu)


def main(runs: int = 7) -> float:
    bare, fly = [], []
    for _ in range(runs):  # interleaved, so both see the same machine load
        bare.append(measure(BARE))
        fly.append(measure(FLYTUI))
    bw, fw = statistics.median(w for w, _ in bare), statistics.median(w for w, _ in fly)
    bc, fc = statistics.median(c for _, c in bare), statistics.median(c for _, c in fly)
    print(f"bare textual first frame: wall {bw * 1000:.0f} ms, cpu {bc * 1000:.0f} ms")
    print(f"flytui first frame:       wall {fw * 1000:.0f} ms, cpu {fc * 1000:.0f} ms")
    print(f"ratio: wall {fw / bw:.2f}x, cpu {fc / bc:.2f}x (goal <= 1.5x)")
    return fw / bw


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
