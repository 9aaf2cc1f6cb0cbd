"""Offline SQL previews, revision by revision, when a range cannot be rendered.

``alembic upgrade A:B --sql`` fails as a whole when one revision needs a live connection (``op.get_bind()``
followed by ``.commit()``/queries, ``op.get_context().autocommit_block()``, ``sa.inspect(bind)``). Lint must then
say which revisions were **not checked**, never "no findings": each revision of the range is rendered on its own
(``parent:rev``), the ones that fail are named with alembic's error and what in their source needs a connection.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.alembic_run import AlembicRunner, SqlPreview
    from flytui.db.alembic_service import History, Revision
    from flytui.db.sqllint import Finding

__all__ = ["Unrendered", "RevisionSql", "offline_blockers", "render_each"]

#: calls that need a live database (attribute name -> why)
_BLOCKERS = {
    "get_bind": "op.get_bind() needs a live connection",
    "autocommit_block": "autocommit_block() needs a live connection",
    "inspect": "inspect() reads the live schema",
    "commit": ".commit() on the connection",
}
MAX_EACH = 25
PARALLEL = 3         # alembic processes rendering at once


@dataclass(frozen=True)
class Unrendered:
    """A revision whose SQL could not be rendered offline (lint: not checked)."""

    revision: str
    reason: str


@dataclass(frozen=True)
class RevisionSql:
    revision: str
    sql: "SqlPreview"
    findings: tuple["Finding", ...]


def offline_blockers(rev: "Revision", function: str = "upgrade") -> list[str]:
    """What in ``function()`` of the revision's source needs a live connection (static; [] if nothing)."""
    if rev.path is None:
        return []
    try:
        tree = ast.parse(rev.path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []
    found: list[str] = []
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function):
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                why = _BLOCKERS.get(name)
                if why and f"{why} (line {node.lineno})" not in found:
                    found.append(f"{why} (line {node.lineno})")
    return found


async def render_each(alembic: "AlembicRunner", history: "History", revisions: Sequence["Revision"], direction: str,
                      url: str, env_extra: Mapping[str, str] | None, x_args: Sequence[str],
                      range_error: str | None = None,
                      lock_timeout_set: bool = False) -> tuple[list[RevisionSql], list[Unrendered]]:
    """Render each revision of a failed range on its own; lint the ones that render (``lock_timeout_set``: see
    :func:`flytui.db.sqllint.lint_sql`)."""
    from flytui.db.sqllint import lint_sql

    rendered: list[RevisionSql] = []
    unrendered: list[Unrendered] = []
    if range_error and "did not finish within" in range_error:  # a hanging env.py: one wait is enough
        return rendered, [Unrendered(r.id, range_error) for r in revisions]
    tried, skipped = list(revisions[:MAX_EACH]), revisions[MAX_EACH:]
    gate = asyncio.Semaphore(PARALLEL)

    async def render(rev: "Revision") -> "SqlPreview | None":
        parents = list(rev.down_revisions)
        if direction == "downgrade" and len(parents) > 1:
            return None
        async with gate:
            if direction == "upgrade":
                return await alembic.preview_sql("upgrade", rev.id, url, history=history, current=parents[:1],
                                                 env_extra=env_extra, x_args=x_args)
            return await alembic.preview_sql("downgrade", parents[0] if parents else "base", url, history=history,
                                             current=[rev.id], env_extra=env_extra, x_args=x_args)

    if not tried:
        return rendered, unrendered
    first = await render(tried[0])
    if (first is not None and not first.ok and range_error and first.error == range_error
            and not offline_blockers(tried[0], direction)):
        # the first revision fails like the whole range, for no reason of its own: env.py itself cannot run
        why = f"env.py could not run offline: {first.error}"
        return rendered, [Unrendered(r.id, why) for r in revisions]
    # the others concurrently (each is a whole alembic start-up; langflow's 9-revision downgrade took 25 s in turn)
    rest = await asyncio.gather(*(render(rev) for rev in tried[1:]))
    for rev, pv in zip(tried, [first, *rest]):
        if pv is None:
            unrendered.append(Unrendered(rev.id, "a merge revision: its downgrade is rendered per branch"))
        elif pv.ok:
            rendered.append(RevisionSql(rev.id, pv, tuple(lint_sql(pv.sql, lock_timeout_set=lock_timeout_set))))
        else:
            unrendered.append(Unrendered(rev.id, reason(pv, rev, direction)))
    unrendered += [Unrendered(r.id, f"not tried (only the first {MAX_EACH} revisions are rendered one by one)")
                   for r in skipped]
    return rendered, unrendered


def reason(pv: Any, rev: "Revision", direction: str = "upgrade") -> str:
    """Alembic's error plus what in the source needs a live connection."""
    blockers = offline_blockers(rev, direction)
    text = pv.error or "alembic could not render it offline"
    return text + (f" — {'; '.join(blockers)}" if blockers else "")
