"""The sandbox's log generator: entries/s that ``fly logs --json`` delivers when asked for 20 000/s.

The logs benchmarks and flood tests need the sandbox to write 10 000+ entries/s; this prints what it reaches
on this machine (one run, 1.5 s window) as a ratio to what was asked. Run: python bench/bench_log_generator.py
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flytui.sandbox.state import Sandbox  # noqa: E402

ASKED = 20_000


def main() -> None:
    flyctl = shutil.which("flytui-sandbox-flyctl") or str(Path(sys.executable).parent / "flytui-sandbox-flyctl")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "sandbox"
        Sandbox.init(directory, user_email="demo@example.com", org="personal")
        sb = Sandbox(directory)
        sb.create_app("web", deployed=True)
        for region in ("iad", "cdg"):
            sb.add_machine("web", state="started", region=region)
        env = dict(os.environ, FLYTUI_SANDBOX_DIR=str(directory), FLYTUI_SANDBOX_SPEED="50",
                   FLYTUI_SANDBOX_LOG_RATE=str(ASKED))
        proc = subprocess.Popen([flyctl, "logs", "-a", "web", "--json"], stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env)
        try:
            assert proc.stdout is not None
            n, t0, window = 0, 0.0, 1.5
            for line in proc.stdout:
                if line.startswith(b'    "level"'):
                    if n == 0:
                        t0 = time.monotonic()
                    n += 1
                    if n > 1 and time.monotonic() - t0 >= window:
                        break
            rate = n / (time.monotonic() - t0)
        finally:
            proc.kill()
            proc.wait()
            sb.teardown()
    print(f"log generator: {rate:,.0f} entries/s asked {ASKED:,}/s -> {rate / ASKED:.2f}x "
          f"(the flood tests and bench_logs need >= 10 000/s)")


if __name__ == "__main__":
    main()
