"""Machine rows from flyctl's status-logger lines (``<glyph> [i/n] text``), for :class:`~flytui.fly.deploy.DeployTracker`.

internal/statuslogger/noninteractive.go @ ad0172f (flytui runs flyctl without a TTY): ``>`` running, ``✔`` success,
``✖`` failure; ``[i/n]`` only when there is more than one line (zero-padded). A line's glyph is the status it was
last *set* to, so ``✔ Machine ID2 [app] was created`` (the first launch's second machine, logged on a line whose
status is still the first machine's success) is not a success: only the finishing texts are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

STATUS_LINE = re.compile(r"^(?P<glyph>[>✔✖]) (?:\[(?P<i>\d+)/(?P<n>\d+)\] )?(?P<text>.*)$")
MACHINE_REF = re.compile(r"\b([0-9a-f]{8,20})\b(?: \[([\w-]+)\])?")
LEASE = re.compile(r"\blease for\b", re.I)
# rolling "update succeeded" (v0.1.112+), first launch / v0.1.104 "update finished: success", plan.go "good state"
DONE_TEXT = re.compile(r"update succeeded|update finished: success|is now in a good state")
_CHECKING = ("become healthy", "up and running", "checking", "smoke checks", "machine checks")


@dataclass
class MachineRow:
    id: str
    group: str = "app"
    step: str = ""            # flyctl's text, e.g. "Waiting for … to have state: started"
    state: str = "pending"    # pending | updating | started | checking | done | failed
    index: int | None = None  # [i/n]
    total: int | None = None


def apply_status_line(rows: dict[str, MachineRow], by_index: dict[int, str], default_group: str, glyph: str,
                      i: str | None, n: str | None, text: str) -> MachineRow | None:
    """Update (or add) the row a status line is about; None when the line names no machine.

    The machine is the one its ``[i/n]`` line already named (plan.go failures print only the error, which may hold
    other hex words), else the id in the text (``ID [group]`` or plan.go's bare ``ID``), else the only row. ``✖`` fails the row (a lease line only if the
    row had not finished), lease lines change nothing else, ``✔`` + a finishing text is done, other lines move
    an unfinished row to updating / started / checking.
    """
    idx = int(i) if i else None
    ref = MACHINE_REF.search(text)
    if idx is not None and idx in by_index:  # a status line belongs to one machine for the whole run
        mid: str | None = by_index[idx]
    else:
        mid = ref.group(1) if ref else None
    if mid is None and idx is None and len(rows) == 1:
        mid = next(iter(rows))
    if mid is None:
        return None
    row = rows.get(mid)
    group = (ref.group(2) if ref and ref.group(1) == mid else None) or (row.group if row else default_group)
    if row is None:
        row = rows[mid] = MachineRow(mid, group)
    row.group = group
    row.step = text
    if idx is not None:
        by_index[idx] = mid
        row.index, row.total = idx, int(n) if n else None
    lease = bool(LEASE.search(text))
    if glyph == "✖":
        if not (lease and row.state == "done"):
            row.state = "failed"
    elif lease:
        pass  # acquiring/clearing a lease changes nothing on the machine itself
    elif glyph == "✔" and DONE_TEXT.search(text):
        row.state = "done"
    elif row.state != "done":
        low = text.lower()
        if any(k in low for k in _CHECKING):
            row.state = "checking"
        elif "has state: started" in low or "reached started state" in low:
            row.state = "started"
        else:
            row.state = "updating"
    return row


def all_indexed_done(rows: dict[str, MachineRow]) -> bool:
    """Every row of an ``[i/n]`` run is known and done (today's flyctl prints no ``Finished deploying``)."""
    totals = {r.total for r in rows.values()}
    if len(totals) != 1 or None in totals:
        return False
    return len(rows) == totals.pop() and all(r.state == "done" for r in rows.values())


__all__ = ["STATUS_LINE", "MachineRow", "apply_status_line", "all_indexed_done"]
