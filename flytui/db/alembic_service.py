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
import configparser
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from flytui.db.lock import LOCK_KEY, MigrationLock, libpq_url
from flytui.fly.lifeline import die_with_parent

# --------------------------------------------------------------------------- project


@dataclass(frozen=True)
class AlembicProject:
    """An Alembic project on disk."""

    root: Path                       # directory alembic runs in (cwd of the subprocess)
    config_file: Path                # alembic.ini or pyproject.toml
    script_location: Path            # absolute path of the migrations directory
    version_locations: tuple[Path, ...]  # where revision files live (default: script_location/versions)
    version_table: str = "alembic_version"
    version_table_schema: str | None = None

    @property
    def uses_pyproject(self) -> bool:
        """True when the configuration is ``[tool.alembic]`` in pyproject.toml."""
        return self.config_file.name == "pyproject.toml"


def _resolve_location(value: str, here: Path) -> Path:
    """A script/version location from the config: ``%(here)s``, relative paths, or ``package:dir``."""
    value = value.replace("%(here)s", str(here)).strip()
    if ":" in value and not Path(value).is_absolute() and not re.match(r"^[A-Za-z]:[\\/]", value):
        pkg, _, sub = value.partition(":")
        candidate = here.joinpath(*pkg.split("."), sub)
        return candidate.resolve()
    path = Path(value)
    return (path if path.is_absolute() else here / path).resolve()


def _split_locations(value: str, separator: str | None) -> list[str]:
    """Split ``version_locations`` like Alembic does for the common separators."""
    if separator in (None, "space"):
        return [v for v in re.split(r"[,\s]+", value) if v]
    sep = {"os": os.pathsep, "newline": "\n", "colon": ":", "semicolon": ";", "comma": ","}.get(separator, separator)
    return [v.strip() for v in value.split(sep) if v.strip()]


def _version_table_from_env(script_location: Path) -> tuple[str, str | None]:
    """``version_table``/``version_table_schema`` literals passed to context.configure in env.py, if any."""
    env_py = script_location / "env.py"
    try:
        src = env_py.read_text(encoding="utf-8")
    except OSError:
        return "alembic_version", None
    table = re.search(r"version_table\s*=\s*['\"]([^'\"]+)['\"]", src)
    schema = re.search(r"version_table_schema\s*=\s*['\"]([^'\"]+)['\"]", src)
    return (table.group(1) if table else "alembic_version"), (schema.group(1) if schema else None)


def _project_from_ini(ini: Path) -> AlembicProject | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error:
        return None
    if not parser.has_option("alembic", "script_location"):
        return None
    here = ini.parent.resolve()
    section = parser["alembic"]
    return _make_project(here, ini, section.get("script_location"), section.get("version_locations"),
                         section.get("path_separator", section.get("version_path_separator")))


def _project_from_pyproject(pyproject: Path) -> AlembicProject | None:
    import tomllib

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    conf = data.get("tool", {}).get("alembic")
    if not isinstance(conf, dict) or "script_location" not in conf:
        return None
    here = pyproject.parent.resolve()
    locations = conf.get("version_locations")
    if isinstance(locations, list):
        locations = " ".join(str(v) for v in locations)
    return _make_project(here, pyproject, str(conf["script_location"]), locations, None)


def _make_project(here: Path, config_file: Path, script_location: str, version_locations: str | None,
                  separator: str | None) -> AlembicProject:
    script = _resolve_location(script_location, here)
    if version_locations:
        versions = tuple(_resolve_location(v, here) for v in _split_locations(version_locations, separator))
    else:
        versions = (script / "versions",)
    table, schema = _version_table_from_env(script)
    return AlembicProject(root=here, config_file=config_file.resolve(), script_location=script,
                          version_locations=versions, version_table=table, version_table_schema=schema)


def find_alembic_project(start: Path) -> AlembicProject | None:
    """The Alembic project at ``start`` or its nearest parent: ``alembic.ini`` with ``script_location``,
    else ``pyproject.toml`` with ``[tool.alembic]``. None when there is none."""
    start = Path(start).resolve()
    if start.is_file():
        start = start.parent
    for directory in (start, *start.parents):
        ini = directory / "alembic.ini"
        if ini.is_file():
            project = _project_from_ini(ini)
            if project:
                return project
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            project = _project_from_pyproject(pyproject)
            if project:
                return project
    return None


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
        return _draw_graph(self.revisions)

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
                   import_error: str | None = None) -> History:
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
                   bases=tuple(r.id for r in revisions if r.is_base), source=source, import_error=import_error)


def _load_with_alembic(project: AlembicProject) -> dict[str, Revision]:
    """Revisions via ``ScriptDirectory`` (imports every revision module in-process)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(project.script_location))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in project.version_locations))
    script = ScriptDirectory.from_config(cfg)
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


def load_history(project: AlembicProject, *, prefer_static: bool = False) -> History:
    """Revision history: Alembic's ScriptDirectory if the modules import in-process, else a static
    ``ast`` read (``History.source == "static"``, ``import_error`` says why)."""
    error: str | None = None
    if not prefer_static:
        try:
            return _build_history(_load_with_alembic(project), "alembic")
        except Exception as exc:  # import errors of the user's modules, alembic CommandError, ...
            error = f"{type(exc).__name__}: {exc}"
    return _build_history(_load_static(project), "static", error)


# --------------------------------------------------------------------------- graph drawing


def _transition(old: list[str | None], new: list[str | None], moves: Mapping[int, list[int]]) -> str:
    """A connector line: for each old lane, edges to the new lanes in ``moves``."""
    width = 2 * max(len(old), len(new)) + 1
    chars = [" "] * width
    for src, dests in moves.items():
        for dst in dests:
            if dst == src:
                chars[2 * src] = "|"
            elif dst < src:
                chars[2 * src - 1] = "/"
            else:
                chars[2 * dst - 1] = "\\"
    return "".join(chars).rstrip() + " "


def _draw_graph(revisions: Sequence[Revision]) -> list[GraphRow]:
    """Lay out lanes over a topologically ordered (newest first) revision list."""
    rows: list[GraphRow] = []
    lanes: list[str | None] = []
    for rev in revisions:
        if rev.id in lanes:
            col = lanes.index(rev.id)
        elif None in lanes:
            col = lanes.index(None)
            lanes[col] = rev.id
        else:
            col = len(lanes)
            lanes.append(rev.id)
        # other lanes that were waiting for this revision collapse into it (branch point)
        dupes = [i for i, lane in enumerate(lanes) if lane == rev.id and i != col]
        if dupes:
            old = list(lanes)
            survivors = [i for i, lane in enumerate(old) if i not in dupes]
            new_index = {i: n for n, i in enumerate(survivors)}
            moves = {i: [new_index[i]] for i in survivors if old[i] is not None}
            moves.update({i: [new_index[col]] for i in dupes})
            lanes = [old[i] for i in survivors]
            rows.append(GraphRow(None, _transition(old, lanes, moves)))
            col = new_index[col]

        parents = list(rev.down_revisions)
        line = ["* " if i == col else ("| " if lane is not None else "  ") for i, lane in enumerate(lanes)]
        if len(parents) > 2:
            line[col] = "*" + "-." * (len(parents) - 2) + " "
        rows.append(GraphRow(rev.id, "".join(line).rstrip() + " "))

        # replace this revision by its parents
        if not parents:
            lanes[col] = None
        else:
            lanes[col] = parents[0]
            extra = [p for p in parents[1:]]
            if extra:
                old = list(lanes)
                new = old[: col + 1] + extra + old[col + 1:]
                moves = {i: [i if i <= col else i + len(extra)] for i, lane in enumerate(old) if lane is not None}
                moves[col] = [col, *range(col + 1, col + 1 + len(extra))]
                lanes = new
                rows.append(GraphRow(None, _transition(old, new, moves)))
        while lanes and lanes[-1] is None:
            lanes.pop()
    return rows


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
    keep = history.ancestors([target])
    if history.get(target).id not in applied:
        raise ValueError(f"revision {target} is not applied; nothing to downgrade to")
    return [r for r in applied_newest if r.id not in keep]


# --------------------------------------------------------------------------- current heads (DB)


def current_heads(url: str, version_table: str = "alembic_version", schema: str | None = None,
                  *, connect_timeout: int = 10) -> tuple[str, ...]:
    """The ``version_num`` rows of the version table, read with psycopg (no env.py).

    ``()`` when the table does not exist or is empty.
    """
    import psycopg
    from psycopg import sql

    qualified = f"{schema}.{version_table}" if schema else version_table
    with psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=connect_timeout,
                         application_name="flytui") as conn:
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


# --------------------------------------------------------------------------- command detection


def detect_alembic_command(project_dir: Path, override: Sequence[str] | str | None = None) -> list[str]:
    """argv prefix that runs the *project's* alembic.

    ``override`` wins; then ``.venv/bin/alembic`` / ``venv/bin/alembic``; ``poetry run alembic`` with
    poetry.lock and poetry on PATH; ``uv run alembic`` with uv.lock and uv on PATH; ``alembic`` on PATH;
    else ``[sys.executable, "-m", "alembic"]``.
    """
    if override:
        return override.split() if isinstance(override, str) else list(override)
    project_dir = Path(project_dir)
    for venv in (".venv", "venv"):
        for rel in (("bin", "alembic"), ("Scripts", "alembic.exe")):
            candidate = project_dir / venv / Path(*rel)
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return [str(candidate)]
    poetry = shutil.which("poetry")
    if (project_dir / "poetry.lock").is_file() and poetry:
        return [poetry, "run", "alembic"]
    uv = shutil.which("uv")
    if (project_dir / "uv.lock").is_file() and uv:
        return [uv, "run", "alembic"]
    alembic = shutil.which("alembic")
    if alembic:
        return [alembic]
    return [sys.executable, "-m", "alembic"]


# --------------------------------------------------------------------------- runner events


@dataclass(frozen=True)
class RunStarted:
    """The subprocess started (the migration lock is held by ``lock_pid``'s backend)."""

    argv: list[str]
    pid: int
    lock_pid: int | None


@dataclass(frozen=True)
class LogLine:
    """One line of alembic's output (``stream`` is ``out`` or ``err``)."""

    stream: str
    text: str


@dataclass(frozen=True)
class Progress:
    """``Running upgrade A -> B, message``: step ``index`` (1-based) of ``total`` (None if unknown)."""

    direction: str       # upgrade | downgrade | stamp
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    message: str
    index: int
    total: int | None

    @property
    def revision(self) -> str | None:
        """The revision this step applies (upgrade) or removes (downgrade)."""
        revs = self.to_revisions if self.direction != "downgrade" else self.from_revisions
        return revs[0] if revs else None


@dataclass(frozen=True)
class RunResult:
    """Outcome of one alembic run; ``returncode`` (the real exit code) decides ``ok``."""

    argv: list[str]
    returncode: int
    ok: bool
    steps: tuple[Progress, ...]
    failed_revision: str | None
    error: str | None            # last meaningful error line (e.g. ``sqlalchemy.exc.ProgrammingError: ...``)
    error_output: str            # tail of the output on failure
    output: str                  # whole output (merged)
    duration: float
    cancelled: bool = False


@dataclass(frozen=True)
class RunFinished:
    """Last event of a run."""

    result: RunResult


AlembicEvent = RunStarted | LogLine | Progress | RunFinished

_PROGRESS_RE = re.compile(r"Running (upgrade|downgrade|stamp_revision) (.*?) -> ([^,]*)(?:, (.*))?$")


def parse_progress(line: str, index: int = 1, total: int | None = None) -> Progress | None:
    """Parse alembic's ``Running upgrade A -> B, message`` log line (None if it is not one)."""
    m = _PROGRESS_RE.search(line)
    if not m:
        return None
    kind, src, dst, message = m.groups()
    split = lambda s: tuple(p.strip() for p in s.split(",") if p.strip())  # noqa: E731
    return Progress(direction="stamp" if kind == "stamp_revision" else kind, from_revisions=split(src),
                    to_revisions=split(dst), message=(message or "").strip(), index=index, total=total)


def redact(text: str, url: str) -> str:
    """Mask the URL's password wherever it appears in ``text``."""
    m = re.match(r"^[^:]+://[^:/@]+:([^@]+)@", url)
    if m and m.group(1):
        from urllib.parse import unquote

        for secret in {m.group(1), unquote(m.group(1))}:
            text = text.replace(secret, "***")
    return text


def _error_line(lines: Sequence[str]) -> str | None:
    """The most telling error line of a failed run (the exception line of the traceback)."""
    for text in reversed(lines):
        stripped = text.strip()
        if re.match(r"^[\w.]+(Error|Exception|Exit|Warning)\b.*?:", stripped) or stripped.startswith("FAILED:"):
            return stripped
    for text in reversed(lines):
        if text.strip():
            return text.strip()
    return None


# --------------------------------------------------------------------------- runner


@dataclass(frozen=True)
class SqlPreview:
    """Offline ``--sql`` output for a range, or the error text when alembic could not render it."""

    ok: bool
    sql: str
    error: str | None
    argv: list[str]
    range: str


class AlembicRunner:
    """Runs the project's own alembic in a subprocess (argv list, cwd = project, own process group)."""

    def __init__(self, project: AlembicProject, command: Sequence[str] | None = None, *,
                 env: Mapping[str, str] | None = None, lock: bool = True, lock_key: int = LOCK_KEY,
                 tail_lines: int = 40) -> None:
        self.project = project
        self.command = list(command) if command else detect_alembic_command(project.root)
        self.env = dict(env or {})
        self.lock = lock
        self.lock_key = lock_key
        self.tail_lines = tail_lines

    # -- argv / env

    def argv(self, args: Sequence[str], x_args: Sequence[str] = ()) -> list[str]:
        """The full argv for ``alembic <args>`` (the URL is never in it)."""
        argv = [*self.command]
        if not self.project.uses_pyproject:
            argv += ["-c", str(self.project.config_file)]
        for x in x_args:
            argv += ["-x", x]
        return argv + list(args)

    def _env(self, url: str, env_extra: Mapping[str, str] | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update(env_extra or {})
        env["DATABASE_URL"] = url
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("NO_COLOR", "1")
        return env

    # -- running

    async def run(self, args: Sequence[str], url: str, env_extra: Mapping[str, str] | None = None,
                  x_args: Sequence[str] = (), *, total: int | None = None) -> AsyncIterator[AlembicEvent]:
        """Run ``alembic <args>``; yields RunStarted, LogLine/Progress events, then RunFinished.

        The migration lock is taken first (MigrationLocked raised before anything starts). Cancelling
        the consumer kills the process group. ``total``: expected step count for progress (see plan()).
        """
        lock = MigrationLock(url, self.lock_key) if self.lock else None
        if lock is not None:
            await lock.acquire()
        try:
            async for event in self._run_process(args, url, env_extra, x_args, total,
                                                 lock.backend_pid if lock else None):
                yield event
        finally:
            if lock is not None:
                await asyncio.shield(lock.release())

    async def run_to_end(self, args: Sequence[str], url: str, env_extra: Mapping[str, str] | None = None,
                         x_args: Sequence[str] = ()) -> RunResult:
        """:meth:`run` without the events: just the result."""
        result: RunResult | None = None
        async for event in self.run(args, url, env_extra, x_args):
            if isinstance(event, RunFinished):
                result = event.result
        assert result is not None
        return result

    async def _run_process(self, args: Sequence[str], url: str, env_extra: Mapping[str, str] | None,
                           x_args: Sequence[str], total: int | None,
                           lock_pid: int | None) -> AsyncIterator[AlembicEvent]:
        argv = self.argv(args, x_args)
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=str(self.project.root), env=self._env(url, env_extra), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        readers = [asyncio.create_task(_pump(proc.stdout, "out", queue)),
                   asyncio.create_task(_pump(proc.stderr, "err", queue))]
        lines: list[str] = []
        steps: list[Progress] = []
        finished = False
        try:
            yield RunStarted(argv=argv, pid=proc.pid, lock_pid=lock_pid)
            open_pipes = 2
            while open_pipes:
                item = await queue.get()
                if item is None:
                    open_pipes -= 1
                    continue
                stream, text = item
                text = redact(text, url)
                lines.append(text)
                yield LogLine(stream, text)
                progress = parse_progress(text, len(steps) + 1, total)
                if progress is not None:
                    steps.append(progress)
                    yield progress
            returncode = await proc.wait()
            finished = True
            ok = returncode == 0
            failed = steps[-1].revision if (steps and not ok) else None
            tail = "\n".join(lines[-self.tail_lines:])
            yield RunFinished(RunResult(
                argv=argv, returncode=returncode, ok=ok, steps=tuple(steps), failed_revision=failed,
                error=None if ok else _error_line(lines), error_output="" if ok else tail,
                output="\n".join(lines), duration=time.monotonic() - started,
            ))
        finally:
            if not finished:
                await _kill_group(proc)
            for task in readers:
                task.cancel()

    async def preview_sql(self, direction: Direction, target: str, url: str, *,
                          history: History | None = None, current: Sequence[str] | None = None,
                          env_extra: Mapping[str, str] | None = None,
                          x_args: Sequence[str] = ()) -> SqlPreview:
        """Offline SQL for ``upgrade cur:target`` / ``downgrade cur:target`` (never raises for alembic
        errors: ``ok=False`` with the error text). ``cur`` comes from the DB's current heads; relative
        downgrade targets (``-N``) are resolved with :func:`plan` because ``--sql`` needs explicit revisions."""
        if current is None:
            current = await current_heads_async(url, self.project.version_table, self.project.version_table_schema)
        try:
            rng = self._sql_range(direction, target, list(current), history)
        except (ValueError, KeyError) as exc:
            return SqlPreview(ok=False, sql="", error=str(exc), argv=[], range="")
        argv = self.argv([direction, rng, "--sql"], x_args)
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=str(self.project.root), env=self._env(url, env_extra), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        try:
            out, err = await proc.communicate()
        except BaseException:
            await _kill_group(proc)
            raise
        stdout = redact(out.decode("utf-8", "replace"), url)
        stderr = redact(err.decode("utf-8", "replace"), url)
        if proc.returncode != 0:
            return SqlPreview(ok=False, sql=stdout, error=_error_line(stderr.splitlines()) or stderr.strip(),
                              argv=argv, range=rng)
        return SqlPreview(ok=True, sql=stdout, error=None, argv=argv, range=rng)

    def _sql_range(self, direction: Direction, target: str, current: list[str], history: History | None) -> str:
        if len(current) > 1:
            raise ValueError("several current heads: preview one branch at a time (upgrade <branch>@head)")
        cur = current[0] if current else None
        if direction == "upgrade":
            if history is not None and re.fullmatch(r"\+\d+", target):
                steps = plan(history, current, target, "upgrade")
                target = steps[-1].id
            return f"{cur}:{target}" if cur else target
        if cur is None:
            raise ValueError("nothing is applied: nothing to downgrade")
        if re.fullmatch(r"-\d+", target):
            if history is None:
                raise ValueError("a relative downgrade preview needs the history")
            steps = plan(history, current, target, "downgrade")
            remaining = history.ancestors(current) - {s.id for s in steps}
            parents = [p for p in steps[-1].down_revisions if p in remaining]
            target = parents[0] if parents else "base"
        return f"{cur}:{target}"


async def _pump(stream: asyncio.StreamReader | None, name: str,
                queue: asyncio.Queue[tuple[str, str] | None]) -> None:
    """Forward decoded lines of one pipe to ``queue``; None at EOF."""
    try:
        if stream is not None:
            while True:
                raw = await stream.readline()
                if not raw:
                    break
                await queue.put((name, raw.decode("utf-8", "replace").rstrip("\r\n")))
    finally:
        queue.put_nowait(None)


async def _kill_group(proc: asyncio.subprocess.Process, grace: float = 3.0) -> None:
    """SIGTERM the process group, SIGKILL after ``grace`` seconds, reap."""
    if proc.returncode is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            await asyncio.wait_for(proc.wait(), wait)
            return
        except asyncio.TimeoutError:
            continue
