"""Time to first frame of flytui vs a bare Textual app, measured in the same run (fresh interpreters).

Usage: python bench/bench_startup.py [runs]. Prints both medians and the ratio (goal <= 1.5x).
flytui runs against a client whose calls never return, so only the shell's own cost is measured.
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
        self.call_after_refresh(lambda: (print(time.time() - t0), self.exit()))
import asyncio
async def main():
    async with A().run_test() as p:
        await p.pause(0.2)
asyncio.run(main())
'''

FLYTUI = '''
import time, sys, asyncio
t0 = float(sys.argv[1])
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
class Never:
    def __getattr__(self, name):
        async def call(*a, **k):
            await asyncio.sleep(3600)
        return call
class A(FlytuiApp):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(lambda: (print(time.time() - t0), self.exit()))
async def main():
    async with A(Config(), Never()).run_test() as p:
        await p.pause(0.2)
asyncio.run(main())
'''


def measure(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code, str(time.time())], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[0])


def main(runs: int = 5) -> float:
    bare, fly = [], []
    for _ in range(runs):
        bare.append(measure(BARE))
        fly.append(measure(FLYTUI))
    b, f = statistics.median(bare), statistics.median(fly)
    print(f"bare textual first frame: {b * 1000:.0f} ms")
    print(f"flytui first frame:       {f * 1000:.0f} ms")
    print(f"ratio: {f / b:.2f}x (goal <= 1.5x)")
    return f / b


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
