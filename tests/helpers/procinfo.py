"""What a child process is doing, for the message of a test that waited for it in vain."""
from __future__ import annotations

from pathlib import Path


def describe(pid: int) -> str:
    """State, signal masks (blocked / ignored / caught), kernel wait channel and children of ``pid``."""
    base = Path(f"/proc/{pid}")
    try:
        status = dict(line.split(":\t", 1) for line in (base / "status").read_text().splitlines() if ":\t" in line)
    except OSError as exc:
        return f"pid {pid}: gone ({exc.strerror})"
    wchan = (base / "wchan").read_text() if (base / "wchan").exists() else "?"
    children = []
    for task in (base / "task").iterdir():
        kids = task / "children"
        if kids.exists():
            children += kids.read_text().split()
    keys = ("State", "SigBlk", "SigIgn", "SigCgt", "Threads")
    return (f"pid {pid}: " + ", ".join(f"{k} {status.get(k, '?').strip()}" for k in keys)
            + f", wchan {wchan or '-'}, children {children or '-'}")
