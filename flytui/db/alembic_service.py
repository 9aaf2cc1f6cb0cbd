"""Alembic service: find a project, read its history, read the DB's heads, run alembic.

Plain Python/asyncio; no UI imports. Heavy libraries (alembic, sqlalchemy, psycopg) are imported
inside functions.

Design (see /docs/ARCHITECTURE.md and the alembic notes):
- The user's env.py imports their app and needs their venv, so migrations run the **project's own
  alembic in a subprocess** (:class:`AlembicRunner`), with ``DATABASE_URL`` in the environment.
- The history graph is read in-process with Alembic's ``ScriptDirectory`` when the revision modules
  import; otherwise a static ``ast`` read of ``versions/*.py`` (:func:`load_history`).
- Current heads come straight from the version table with psycopg (:func:`current_heads`).
"""

from __future__ import annotations

import ast
import asyncio
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from flytui.db.lock import libpq_url

if TYPE_CHECKING:  # pragma: no cover - alembic is imported lazily
    from alembic.script import ScriptDirectory

# the project on disk lives in flytui.db.alembic_project; these names stay importable from here
from flytui.db.alembic_project import AlembicProject as AlembicProject  # noqa: E402
from flytui.db.alembic_project import find_alembic_project as find_alembic_project  # noqa: E402


# --------------------------------------------------------------------------- history

RevisionState = Literal["applied", "pending", "current", "head"]


@dataclass(frozen=True)
class Revision:
    """One revision file."""

    id: str
    down_revisions: tuple[str, ...]
    message: str
    path: Path | None
    branch_labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    is_head: bool = False
    is_base: bool = False
    is_branch_point: bool = False
    is_merge: bool = False


@dataclass(frozen=True)
class GraphRow:
    """One line of the lane graph; ``revision`` is None for connector lines (``|/``, ``|\\``)."""

    revision: str | None
    text: str


@dataclass(frozen=True)
class History:
    """All revisions newest→oldest in topological order (children before parents)."""

    revisions: tuple[Revision, ...]
    heads: tuple[str, ...]
    bases: tuple[str, ...]
    source: Literal["alembic", "static"]
    import_error: str | None = None
    how: str = ""                            # which way it was read, and why (shown to the user)
    _by_id: dict[str, Revision] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({r.id: r for r in self.revisions})

    def get(self, rev_id: str) -> Revision:
        """A revision by id or unique prefix; KeyError otherwise."""
        if rev_id in self._by_id:
            return self._by_id[rev_id]
        matches = [r for r in self.revisions if r.id.startswith(rev_id)]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(f"no such revision {rev_id!r}" if not matches else f"ambiguous revision prefix {rev_id!r}")

    def ancestors(self, rev_ids: Iterable[str], inclusive: bool = True) -> set[str]:
        """All revisions reachable downwards (down_revisions and depends_on) from ``rev_ids``."""
        seen: set[str] = set()
        stack = [self.get(r).id for r in rev_ids]
        if not inclusive:
            stack = [p for r in stack for p in (*self._by_id[r].down_revisions, *self._by_id[r].depends_on)]
        while stack:
            rid = stack.pop()
            if rid in seen or rid not in self._by_id:
                continue
            seen.add(rid)
            rev = self._by_id[rid]
            stack.extend(rev.down_revisions)
            stack.extend(rev.depends_on)
        return seen

    def applied(self, current_heads: Sequence[str]) -> list[Revision]:
        """Revisions applied in a DB at ``current_heads``, newest→oldest."""
        done = self.ancestors(current_heads)
        return [r for r in self.revisions if r.id in done]

    def pending(self, current_heads: Sequence[str]) -> list[Revision]:
        """Revisions not yet applied, oldest→newest (the order ``upgrade heads`` runs them)."""
        done = self.ancestors(current_heads)
        return [r for r in reversed(self.revisions) if r.id not in done]

    def state(self, rev_id: str, current_heads: Sequence[str]) -> RevisionState:
        """``current`` (in the version table), ``applied``, ``head`` (pending head) or ``pending``."""
        rev = self.get(rev_id)
        if rev.id in {self.get(c).id for c in current_heads}:
            return "current"
        if rev.id in self.ancestors(current_heads):
            return "applied"
        return "head" if rev.is_head else "pending"

    def states(self, current_heads: Sequence[str]) -> dict[str, RevisionState]:
        """State of every revision."""
        done = self.ancestors(current_heads)
        current = {self.get(c).id for c in current_heads}
        return {r.id: ("current" if r.id in current else "applied" if r.id in done
                       else "head" if r.is_head else "pending") for r in self.revisions}

    def graph_rows(self) -> list[GraphRow]:
        """A git-log-style lane graph, newest first: ``* `` commit lines plus ``|/``/``|\\`` connectors."""
        from flytui.db.alembic_graph import draw_graph

        return draw_graph(self.revisions)

    def graph_column(self) -> dict[str, str]:
        """Only the commit line of each revision (for a one-row-per-revision table)."""
        return {row.revision: row.text for row in self.graph_rows() if row.revision is not None}


def _as_tuple(value: object) -> tuple[str, ...]:
    """None / str / tuple / list / set -> tuple of str (``down_revision`` and friends)."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list, set, frozenset)):
        return tuple(str(v) for v in value)
    raise TypeError(f"unexpected value {value!r}")


def _first_line(doc: str | None) -> str:
    doc = (doc or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def _topo_order(raw: Mapping[str, Revision]) -> list[str]:
    """Deterministic newest→oldest order: a revision comes after all its children; a branch is kept
    together (like ``git log --topo-order``)."""
    children: dict[str, list[str]] = {rid: [] for rid in raw}
    for rid, rev in raw.items():
        for parent in rev.down_revisions:
            if parent in children:
                children[parent].append(rid)
    remaining = {rid: len(kids) for rid, kids in children.items()}
    stack = sorted((rid for rid, n in remaining.items() if n == 0), reverse=True)
    order: list[str] = []
    while stack:
        rid = stack.pop()
        order.append(rid)
        for parent in reversed(raw[rid].down_revisions):
            if parent in remaining:
                remaining[parent] -= 1
                if remaining[parent] == 0:
                    stack.append(parent)
    if len(order) != len(raw):
        cyclic = sorted(set(raw) - set(order))
        raise ValueError(f"revision graph has a cycle involving {', '.join(cyclic[:5])}")
    return order


def _build_history(raw: Mapping[str, Revision], source: Literal["alembic", "static"],
                   import_error: str | None = None, how: str = "") -> History:
    """Fill in head/base/branch/merge flags and order the revisions."""
    child_count = {rid: 0 for rid in raw}
    for rev in raw.values():
        for parent in rev.down_revisions:
            if parent in child_count:
                child_count[parent] += 1
    revisions = []
    for rid in _topo_order(raw):
        rev = raw[rid]
        revisions.append(Revision(
            id=rev.id, down_revisions=rev.down_revisions, message=rev.message, path=rev.path,
            branch_labels=rev.branch_labels, depends_on=rev.depends_on,
            is_head=child_count[rid] == 0, is_base=not rev.down_revisions,
            is_branch_point=child_count[rid] > 1, is_merge=len(rev.down_revisions) > 1,
        ))
    return History(revisions=tuple(revisions), heads=tuple(r.id for r in revisions if r.is_head),
                   bases=tuple(r.id for r in revisions if r.is_base), source=source, import_error=import_error,
                   how=how)


def sys_path_entries(project: AlembicProject, cwd: Path | None = None) -> list[str]:
    """The config's ``prepend_sys_path`` entries as absolute paths (alembic resolves them against the folder it
    runs in: ``cwd``, default the project root)."""
    base = Path(cwd) if cwd else project.root
    return [str((Path(p) if Path(p).is_absolute() else base / p).resolve()) for p in project.prepend_sys_path]


def _load_with_alembic(project: AlembicProject, cwd: Path | None = None) -> dict[str, Revision]:
    """Revisions via ``ScriptDirectory`` (imports every revision module in-process, with the config's
    ``prepend_sys_path`` on ``sys.path`` for the duration, as alembic run from ``cwd`` would have it)."""
    import sys

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(project.script_location))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in project.version_locations))
    saved = list(sys.path)
    sys.path[:0] = sys_path_entries(project, cwd)
    try:
        script = ScriptDirectory.from_config(cfg)
        return _walk(script)
    finally:
        sys.path[:] = saved


def _walk(script: ScriptDirectory) -> dict[str, Revision]:
    raw: dict[str, Revision] = {}
    for sc in script.walk_revisions():
        raw[sc.revision] = Revision(
            id=sc.revision, down_revisions=_as_tuple(sc.down_revision), message=_first_line(sc.longdoc),
            path=Path(sc.path).resolve(), branch_labels=tuple(sorted(getattr(sc, "_orig_branch_labels", sc.branch_labels))),
            depends_on=_as_tuple(sc.dependencies),
        )
    return raw


def _literal(node: ast.expr | None) -> object:
    if node is None:
        return None
    return ast.literal_eval(node)


def read_revision_file(path: Path) -> Revision | None:
    """Static read of one revision module with ``ast`` (nothing is imported or executed).

    None when the file defines no ``revision``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    values: dict[str, ast.expr | None] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            values[stmt.target.id] = stmt.value
    if "revision" not in values:
        return None
    revision = _literal(values["revision"])
    if not isinstance(revision, str):
        return None
    return Revision(
        id=revision,
        down_revisions=_as_tuple(_literal(values.get("down_revision"))),
        message=_first_line(ast.get_docstring(tree, clean=False)),
        path=path.resolve(),
        branch_labels=tuple(sorted(_as_tuple(_literal(values.get("branch_labels"))))),
        depends_on=_as_tuple(_literal(values.get("depends_on"))),
    )


def _revision_files(project: AlembicProject) -> list[Path]:
    files: list[Path] = []
    for location in project.version_locations:
        if location.is_dir():
            files.extend(sorted(p for p in location.glob("*.py") if not p.name.startswith("__")))
    return files


def _load_static(project: AlembicProject) -> dict[str, Revision]:
    raw: dict[str, Revision] = {}
    for path in _revision_files(project):
        try:
            rev = read_revision_file(path)
        except (SyntaxError, ValueError, TypeError, UnicodeDecodeError):
            continue  # not a revision we can read statically
        if rev is not None:
            raw[rev.id] = rev
    return raw


def load_history(project: AlembicProject, *, prefer_static: bool = False, cwd: Path | None = None) -> History:
    """Revision history: Alembic's ScriptDirectory if the modules import in-process (``prepend_sys_path``
    honoured, relative to ``cwd``), else a static ``ast`` read (``History.source == "static"``,
    ``import_error`` says why)."""
    error: str | None = None
    if not prefer_static:
        try:
            extra = f" with prepend_sys_path {', '.join(project.prepend_sys_path)}" if project.prepend_sys_path else ""
            return _build_history(_load_with_alembic(project, cwd), "alembic",
                                  how=f"read with Alembic in flytui's Python{extra}")
        except Exception as exc:  # noqa: BLE001 - importing the user's revision modules may raise anything; shown, then read statically
            error = f"{type(exc).__name__}: {exc}"
    why = f"importing the revision modules failed: {error}" if error else "asked for"
    return _build_history(_load_static(project), "static", error,
                          how=f"static read of the revision files (nothing imported) because {why}")


def history_from_dump(items: Sequence[Mapping[str, object]], how: str) -> History:
    """A History from ``history_dump.py``'s JSON (the project's own Python read it)."""
    raw = {}
    for item in items:
        rid = str(item["id"])
        raw[rid] = Revision(id=rid, down_revisions=_as_tuple(item.get("down")),
                            message=_first_line(str(item.get("doc") or "")),
                            path=Path(str(item["path"])) if item.get("path") else None,
                            branch_labels=_as_tuple(item.get("branch_labels")),
                            depends_on=_as_tuple(item.get("depends_on")))
    return _build_history(raw, "alembic", how=how)


# --------------------------------------------------------------------------- current heads (DB)


def current_heads(url: str, version_table: str = "alembic_version", schema: str | None = None,
                  *, connect_timeout: int = 10, statement_timeout_ms: int = 15_000) -> tuple[str, ...]:
    """The ``version_num`` rows of the version table, read with psycopg (no env.py).

    ``()`` when the table does not exist or is empty. Bounded: ``connect_timeout`` seconds to connect and
    ``statement_timeout_ms`` for the queries (a table locked by a running DDL cannot block it forever).
    """
    import psycopg
    from psycopg import sql

    qualified = f"{schema}.{version_table}" if schema else version_table
    with psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=connect_timeout,
                         application_name="flytui") as conn:
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(int(statement_timeout_ms)),))
        exists = conn.execute("SELECT to_regclass(%s)", (qualified if schema else f'"{version_table}"',)).fetchone()
        if not exists or exists[0] is None:
            return ()
        ident = sql.Identifier(schema, version_table) if schema else sql.Identifier(version_table)
        rows = conn.execute(sql.SQL("SELECT version_num FROM {} ORDER BY version_num").format(ident)).fetchall()
    return tuple(r[0] for r in rows)


async def current_heads_async(url: str, version_table: str = "alembic_version",
                              schema: str | None = None) -> tuple[str, ...]:
    """:func:`current_heads` in a thread, for the event loop."""
    return await asyncio.to_thread(current_heads, url, version_table, schema)


# --------------------------------------------------------------------------- re-exported
# The runner lives in flytui.db.alembic_run, the command detection in flytui.db.interpreter, plan and the
# downgrade checks in flytui.db.alembic_plan; these names stay importable from here.
from flytui.db.interpreter import detect_alembic_command as detect_alembic_command  # noqa: E402
from flytui.db.alembic_plan import (  # noqa: E402
    Direction as Direction, DowngradeWarning as DowngradeWarning, check_downgrade as check_downgrade, plan as plan,
)
from flytui.db.alembic_run import (  # noqa: E402
    AlembicEvent as AlembicEvent, AlembicRunner as AlembicRunner, AlembicSetupError as AlembicSetupError,
    LogLine as LogLine, Progress as Progress, RunFinished as RunFinished, RunResult as RunResult,
    RunStarted as RunStarted, SqlPreview as SqlPreview, TargetProbe as TargetProbe, _error_line as _error_line,
    parse_progress as parse_progress, redact as redact,
)
