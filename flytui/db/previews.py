"""Offline SQL previews, revision by revision, when a range cannot be rendered.

``alembic upgrade A:B --sql`` fails as a whole when one revision needs a live connection (``op.get_bind()``
followed by ``.commit()``/queries, ``op.get_context().autocommit_block()``, ``sa.inspect(bind)``). Lint must then
say which revisions were **not checked**, never "no findings": each revision of the range is rendered on its own
(``parent:rev``), the ones that fail are named with alembic's error and what in their source needs a connection.
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.alembic_plan import DowngradeWarning
    from flytui.db.alembic_run import AlembicRunner, SqlPreview
    from flytui.db.alembic_service import History, Revision
    from flytui.db.migration_types import ActionPreview, MigrationAction, RevisionPreview
    from flytui.db.sqllint import Finding

__all__ = ["Unrendered", "RevisionSql", "offline_blockers", "render_each", "preview_action", "preview_one"]

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
                      range_error: str | None = None, lock_timeout_set: bool = False,
                      range_sql: str = "") -> tuple[list[RevisionSql], list[Unrendered]]:
    """Render each revision of a failed range on its own; lint the ones that render (``lock_timeout_set``: see
    :func:`flytui.db.sqllint.lint_sql`). ``range_sql``: what the failed range printed before it failed (a linear
    range goes on from there, see :func:`_render_linear`)."""
    from flytui.db.sqllint import lint_sql

    rendered: list[RevisionSql] = []
    unrendered: list[Unrendered] = []
    if range_error and "did not finish within" in range_error:  # a hanging env.py: one wait is enough
        return rendered, [Unrendered(r.id, range_error) for r in revisions]
    if _linear(revisions, direction) and _segments(range_sql):
        return await _render_linear(alembic, history, list(revisions), direction, url, env_extra, x_args,
                                    range_sql, range_error, lock_timeout_set)
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
    for rev, pv in zip(tried, [first, *rest], strict=True):
        if pv is None:
            unrendered.append(Unrendered(rev.id, "a merge revision: its downgrade is rendered per branch"))
        elif pv.ok:
            rendered.append(RevisionSql(rev.id, pv, tuple(lint_sql(pv.sql, lock_timeout_set=lock_timeout_set))))
        else:
            unrendered.append(Unrendered(rev.id, reason(pv, rev, direction)))
    unrendered += [Unrendered(r.id, f"not tried (only the first {MAX_EACH} revisions are rendered one by one)")
                   for r in skipped]
    return rendered, unrendered


#: alembic's offline marker before each revision's SQL (MigrationContext.run_migrations: "-- Running <step>"; the
#: step is named after the migration function, so a decorated one reads "wrapper")
_MARK = re.compile(r"^-- Running \w+ (.*?) -> (.*?)\s*$", re.MULTILINE)


def _segments(sql: str) -> list[tuple[str, str, str]]:
    """(from, to, text) per revision in alembic's offline output (the preamble goes with the first)."""
    marks = list(_MARK.finditer(sql or ""))
    return [(m.group(1).strip(), m.group(2).strip(),
             sql[(0 if i == 0 else m.start()):(marks[i + 1].start() if i + 1 < len(marks) else len(sql))])
            for i, m in enumerate(marks)]


def _linear(revisions: Sequence["Revision"], direction: str) -> bool:
    """Each revision (in run order) follows the previous one alone: no merge, no other branch in between."""
    if any(len(r.down_revisions) > 1 for r in revisions):
        return False
    pairs = zip(revisions, revisions[1:], strict=False)
    if direction == "upgrade":
        return all(b.down_revisions == (a.id,) for a, b in pairs)
    return all(a.down_revisions == (b.id,) for a, b in pairs)


async def _render_linear(alembic: "AlembicRunner", history: "History", revisions: list["Revision"], direction: str,
                         url: str, env_extra: Mapping[str, str] | None, x_args: Sequence[str], sql: str,
                         error: str | None, lock_timeout_set: bool) -> tuple[list[RevisionSql], list[Unrendered]]:
    """A linear range whose offline rendering failed: the revisions before the failing one rendered (their SQL is in
    the output, after alembic's ``-- Running`` markers); the failing one is named; the range goes on after it. One
    alembic start per revision that cannot be rendered, not one per revision (ihatemoney: 2 instead of 13)."""
    from flytui.db.alembic_run import SqlPreview
    from flytui.db.sqllint import lint_sql

    rendered: list[RevisionSql] = []
    unrendered: list[Unrendered] = []
    by_id = {r.id: r for r in revisions}
    remaining = list(revisions)
    ok = False
    while remaining:
        segments = [(to if direction == "upgrade" else frm, text) for frm, to, text in _segments(sql)]
        done = segments if ok else segments[:-1]   # a failed run stopped inside its last revision
        for rev_id, text in done:
            if rev_id in by_id:
                rendered.append(RevisionSql(rev_id, SqlPreview(True, text, None, [], ""),
                                            tuple(lint_sql(text, lock_timeout_set=lock_timeout_set))))
        if ok:
            break
        failed = segments[-1][0] if segments else remaining[0].id
        ids = [r.id for r in remaining]
        if failed not in ids:  # not what was asked for: say so rather than guess
            unrendered += [Unrendered(r.id, error or "alembic could not render it offline") for r in remaining]
            break
        at = ids.index(failed)
        rev = remaining[at]
        unrendered.append(Unrendered(rev.id, reason(SqlPreview(False, "", error, [], ""), rev, direction)))
        remaining = remaining[at + 1:]
        if not remaining:
            break
        if direction == "upgrade":
            pv = await alembic.preview_sql("upgrade", remaining[-1].id, url, history=history, current=[rev.id],
                                           env_extra=env_extra, x_args=x_args)
        else:
            last = remaining[-1].down_revisions
            pv = await alembic.preview_sql("downgrade", last[0] if last else "base", url, history=history,
                                           current=[remaining[0].id], env_extra=env_extra, x_args=x_args)
        sql, error, ok = pv.sql, pv.error, pv.ok
        if not ok and not _segments(sql):  # failed before its first revision: nothing to attribute
            unrendered += [Unrendered(r.id, error or "alembic could not render it offline") for r in remaining]
            break
    return rendered, unrendered


def reason(pv: Any, rev: "Revision", direction: str = "upgrade") -> str:
    """Alembic's error plus what in the source needs a live connection."""
    blockers = offline_blockers(rev, direction)
    text = pv.error or "alembic could not render it offline"
    return text + (f" — {'; '.join(blockers)}" if blockers else "")


async def preview_action(alembic: AlembicRunner, history: History, current: tuple[str, ...], action: MigrationAction,
                         url: str, env_extra: Mapping[str, str] | None, x_args: Sequence[str],
                         lock_timeout_set: bool = False) -> ActionPreview:
    """Which revisions ``action`` runs, their SQL (``--sql cur:target``), lint findings, downgrade warnings
    (``lock_timeout_set``: env.py sets a lock_timeout; see :func:`flytui.db.sqllint.lint_sql`)."""
    import asyncio

    from flytui.db.alembic_plan import check_downgrade, plan
    from flytui.db.migration_types import STAMP_WARNING, ActionPreview
    from flytui.db.sqllint import lint_sql

    warnings: list[str] = []
    try:
        if action.kind == "stamp":
            revisions: list[Revision] = []
            warnings.append(STAMP_WARNING)
        else:
            revisions = plan(history, current, action.target, action.kind)
    except (ValueError, KeyError) as exc:
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return ActionPreview(action, (), None, (), (), tuple(warnings), text, current)
    if action.kind != "stamp" and not revisions:
        return ActionPreview(action, (), None, (), (), (), f"nothing to {action.kind}: the database is at "
                             f"{', '.join(current) or 'base'}", current)
    dwarn: list[DowngradeWarning] = []
    if action.kind == "downgrade":
        for rev in revisions:
            dwarn.extend(await asyncio.to_thread(check_downgrade, rev))
    sql: SqlPreview | None = None
    findings: list[Finding] = []
    if action.kind != "stamp":
        sql = await alembic.preview_sql(action.kind, action.target, url, history=history, current=current,
                                        env_extra=env_extra, x_args=x_args)
        if sql.ok:
            findings = lint_sql(sql.sql, lock_timeout_set=lock_timeout_set)
        else:  # name the revisions that cannot be rendered offline; lint the others one by one
            rendered, unrendered = await render_each(alembic, history, revisions, action.kind, url, env_extra,
                                                     x_args, range_error=sql.error, range_sql=sql.sql,
                                                     lock_timeout_set=lock_timeout_set)
            findings = [f for r in rendered for f in r.findings]
            return ActionPreview(action, tuple(revisions), sql, tuple(findings), tuple(dwarn), tuple(warnings),
                                 None, current, tuple(unrendered), tuple(r.revision for r in rendered))
    return ActionPreview(action, tuple(revisions), sql, tuple(findings), tuple(dwarn), tuple(warnings),
                         None, current)


async def preview_one(alembic: AlembicRunner, history: History, rev_id: str, url: str | None,
                      env_extra: Mapping[str, str] | None, x_args: Sequence[str],
                      lock_timeout_set: bool = False) -> RevisionPreview:
    """Upgrade SQL ``parent:rev`` and downgrade SQL ``rev:parent`` of one revision (no DB state used)."""
    import asyncio

    from flytui.db.alembic_plan import check_downgrade
    from flytui.db.alembic_run import SqlPreview
    from flytui.db.migration_types import RevisionPreview
    from flytui.db.sqllint import lint_sql

    rev = history.get(rev_id)
    url = url or "postgresql+psycopg://preview@localhost/preview"
    parents = list(rev.down_revisions)
    up = await alembic.preview_sql("upgrade", rev.id, url, history=history, current=parents,
                                   env_extra=env_extra, x_args=x_args)
    down_target = parents[0] if len(parents) == 1 else "base"
    if len(parents) > 1:
        down = SqlPreview(False, "", "a merge revision: downgrade one branch at a time", [], "")
    else:
        down = await alembic.preview_sql("downgrade", down_target, url, history=history, current=[rev.id],
                                         env_extra=env_extra, x_args=x_args)
    findings = tuple(lint_sql(up.sql, lock_timeout_set=lock_timeout_set)) if up.ok else ()
    dwarn = tuple(await asyncio.to_thread(check_downgrade, rev))
    if not up.ok:
        up = SqlPreview(False, up.sql, reason(up, rev, "upgrade"), up.argv, up.range)
    if not down.ok and len(parents) <= 1:
        down = SqlPreview(False, down.sql, reason(down, rev, "downgrade"), down.argv, down.range)
    return RevisionPreview(rev, up, down, findings, dwarn)
