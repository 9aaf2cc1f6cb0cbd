"""Which revisions an alembic command will run (:func:`plan`) and static checks of ``downgrade()``.

Split out of :mod:`flytui.db.alembic_service` (which re-exports these names). Works on
:class:`~flytui.db.alembic_service.History` objects; nothing is imported from the user's project.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.alembic_service import History, Revision


# --------------------------------------------------------------------------- static downgrade checks


@dataclass(frozen=True)
class DowngradeWarning:
    """A problem in a revision's ``downgrade()`` found by reading its source."""

    revision: str
    line: int
    message: str


def _is_noop_body(body: Sequence[ast.stmt]) -> bool:
    return all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
               for s in body)


def check_downgrade(rev: Revision) -> list[DowngradeWarning]:
    """Warn when ``downgrade()`` does nothing (only ``pass``/docstring) or calls
    ``op.drop_constraint(None, ...)`` (an unnamed constraint can't be dropped)."""
    if rev.path is None or not rev.path.is_file():
        return []
    tree = ast.parse(rev.path.read_text(encoding="utf-8"))
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "downgrade"]
    if not funcs:
        return [DowngradeWarning(rev.id, 1, "no downgrade() function: this revision cannot be rolled back")]
    func = funcs[0]
    warnings: list[DowngradeWarning] = []
    if _is_noop_body(func.body):
        warnings.append(DowngradeWarning(rev.id, func.lineno,
                                         "downgrade() is empty: rolling back only rewrites alembic_version"))
    for node in ast.walk(func):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "drop_constraint" and node.args
                and isinstance(node.args[0], ast.Constant) and node.args[0].value is None):
            warnings.append(DowngradeWarning(rev.id, node.lineno,
                                             "op.drop_constraint(None, ...): the constraint has no name and "
                                             "the downgrade will fail"))
    return warnings


# --------------------------------------------------------------------------- plan


Direction = Literal["upgrade", "downgrade"]


def _resolve_ids(history: History, ids: Sequence[str]) -> list[str]:
    return [history.get(i).id for i in ids]


def plan(history: History, current: Sequence[str], target: str, direction: Direction) -> list[Revision]:
    """Revisions that ``alembic <direction> <target>`` will run from ``current``, in run order.

    Upgrade targets: ``head``, ``heads``, ``+N``, ``<rev>``, ``<branch>@head``. Downgrade targets:
    ``base``, ``-N``, ``<rev>``. ValueError for what Alembic would refuse (multiple heads for ``head``,
    an ambiguous walk, a downgrade target that is not applied).
    """
    current = _resolve_ids(history, current)
    applied = history.ancestors(current) if current else set()
    if direction == "upgrade":
        return _plan_upgrade(history, current, applied, target)
    return _plan_downgrade(history, current, applied, target)


def _plan_upgrade(history: History, current: list[str], applied: set[str], target: str) -> list[Revision]:
    pending = [r for r in reversed(history.revisions) if r.id not in applied]
    if target == "heads":
        return pending
    if target == "head":
        if len(history.heads) > 1:
            raise ValueError("Multiple head revisions are present for given argument 'head'; please specify a "
                             "specific target revision, '<branchname>@head' to narrow to a specific head, "
                             "or 'heads' for all heads")
        return pending
    if target.endswith("@head"):
        label = target[: -len("@head")]
        heads = [h for h in history.heads
                 if any(a == label or label in history.get(a).branch_labels for a in history.ancestors([h]))]
        if len(heads) != 1:
            raise ValueError(f"no single head for branch {label!r}")
        wanted = history.ancestors(heads)
        return [r for r in pending if r.id in wanted]
    m = re.fullmatch(r"\+(\d+)", target)
    if m:
        steps: list[Revision] = []
        tips = list(current)
        done = set(applied)
        for _ in range(int(m.group(1))):
            nxt = [r for r in pending if r.id not in done and all(p in done for p in r.down_revisions)
                   and (not tips or set(r.down_revisions) & set(tips) or not r.down_revisions)]
            if not nxt:
                raise ValueError(f"Relative revision {target} didn't produce {m.group(1)} migrations")
            if len(nxt) > 1:
                raise ValueError("Ambiguous walk")
            steps.append(nxt[0])
            done.add(nxt[0].id)
            tips = [t for t in tips if t not in nxt[0].down_revisions] + [nxt[0].id]
        return steps
    wanted = history.ancestors([target])
    return [r for r in pending if r.id in wanted]


def _plan_downgrade(history: History, current: list[str], applied: set[str], target: str) -> list[Revision]:
    applied_newest = [r for r in history.revisions if r.id in applied]
    if target == "base":
        return applied_newest
    m = re.fullmatch(r"-(\d+)", target)
    if m:
        n = int(m.group(1))
        if n > len(applied_newest):
            raise ValueError(f"Relative revision {target} didn't produce {n} migrations")
        if len(current) > 1:
            raise ValueError("Ambiguous walk: several current heads; downgrade to a named revision")
        return applied_newest[:n]
    target_id = history.get(target).id
    if target_id not in applied:
        raise ValueError(f"revision {target} is not applied; nothing to downgrade to")
    # Alembic removes the applied *descendants* of the target (revision.py _collect_downgrade_revisions: "all
    # dependents of target which are currently active"); a branch merged later that does not descend from the
    # target stays (langflow: downgrading below a merge keeps the other side's revisions)
    drop = _descendants(history, target_id) - {target_id}
    return [r for r in applied_newest if r.id in drop]


def _descendants(history: History, rev_id: str) -> set[str]:
    """``rev_id`` and every revision that has it as an ancestor (through down_revisions and depends_on)."""
    children: dict[str, list[str]] = {}
    for rev in history.revisions:
        for parent in (*rev.down_revisions, *rev.depends_on):
            children.setdefault(parent, []).append(rev.id)
    seen: set[str] = set()
    stack = [rev_id]
    while stack:
        rid = stack.pop()
        if rid not in seen:
            seen.add(rid)
            stack.extend(children.get(rid, ()))
    return seen
