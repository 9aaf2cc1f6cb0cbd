"""Alembic project discovery, history loading (ScriptDirectory and static fallback), lane graph, plan,
static downgrade checks, progress parsing and command detection. No database needed."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from flytui.db.alembic_service import (
    History,
    Revision,
    _build_history,
    check_downgrade,
    detect_alembic_command,
    find_alembic_project,
    load_history,
    parse_progress,
    plan,
    read_revision_file,
)
from flytui.sandbox.demo import copy_demo_project
from tests.helpers.revgen import RevSpec, branching_chain, write_project


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_demo_project(tmp_path / "demo", "fly-demo-test")


def _rev(rid: str, *down: str) -> Revision:
    return Revision(id=rid, down_revisions=tuple(down), message=rid, path=None)


def _hist(*revs: Revision) -> History:
    return _build_history({r.id: r for r in revs}, "static")


# ---------------------------------------------------------------- discovery


def test_find_project_from_subdirectory(demo: Path) -> None:
    project = find_alembic_project(demo / "app")
    assert project is not None
    assert project.root == demo.resolve()
    assert project.config_file == (demo / "alembic.ini").resolve()
    assert project.script_location == (demo / "migrations").resolve()
    assert project.version_locations == ((demo / "migrations" / "versions").resolve(),)
    assert not project.uses_pyproject


def test_find_project_in_pyproject(tmp_path: Path) -> None:
    (tmp_path / "db" / "versions").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.alembic]\nscript_location = "%(here)s/db"\n')
    project = find_alembic_project(tmp_path)
    assert project is not None and project.uses_pyproject
    assert project.script_location == (tmp_path / "db").resolve()


def test_no_project(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("[loggers]\nkeys = root\n")  # no [alembic] section
    assert find_alembic_project(tmp_path) is None


def test_version_table_read_from_env_py(tmp_path: Path) -> None:
    env = 'context.configure(connection=c, version_table="schema_migrations", version_table_schema="ops")\n'
    write_project(tmp_path, [RevSpec("a1", None, "first")], env_py=env)
    project = find_alembic_project(tmp_path)
    assert project and project.version_table == "schema_migrations" and project.version_table_schema == "ops"


# ---------------------------------------------------------------- history


def test_demo_history_via_alembic(demo: Path) -> None:
    history = load_history(find_alembic_project(demo))
    assert history.source == "alembic" and history.import_error is None
    assert [(r.id, r.down_revisions, r.message) for r in history.revisions] == [
        ("0002_todo", ("0001_user",), "create todo table"),
        ("0001_user", (), "create user table"),
    ]
    assert history.heads == ("0002_todo",) and history.bases == ("0001_user",)
    assert history.revisions[0].is_head and history.revisions[1].is_base
    assert [row.text for row in history.graph_rows()] == ["* ", "* "]


def test_500_revisions_alembic_and_static_are_identical(tmp_path: Path) -> None:
    specs = branching_chain(500)
    assert len(specs) == 500
    project = find_alembic_project(write_project(tmp_path / "big", specs))
    via_alembic = load_history(project)
    via_static = load_history(project, prefer_static=True)
    assert via_alembic.source == "alembic" and via_static.source == "static"
    assert len(via_alembic.revisions) == 500
    assert via_alembic.revisions == via_static.revisions
    assert via_alembic.graph_rows() == via_static.graph_rows()
    assert via_alembic.heads == via_static.heads and len(via_alembic.heads) == 2
    merges = [r for r in via_alembic.revisions if r.is_merge]
    assert merges and any(len(r.down_revisions) == 3 for r in merges)
    assert any(r.is_branch_point for r in via_alembic.revisions)
    assert via_alembic.get("r0000").branch_labels == ("core",)
    # the graph has one commit line per revision, in the same order, and connector lines between
    rows = via_alembic.graph_rows()
    assert [r.revision for r in rows if r.revision] == [r.id for r in via_alembic.revisions]
    assert any("/" in r.text for r in rows if r.revision is None)
    assert any("\\" in r.text for r in rows if r.revision is None)
    assert any(r.text.startswith("*-.") or "*-." in r.text for r in rows)
    # children always come before their parents
    pos = {r.id: i for i, r in enumerate(via_alembic.revisions)}
    assert all(pos[p] > pos[r.id] for r in via_alembic.revisions for p in r.down_revisions)


def test_missing_module_falls_back_to_static(tmp_path: Path) -> None:
    specs = [RevSpec("aaa1", None, "create user table"),
             RevSpec("bbb2", "aaa1", "add audit log", extra_imports=["import flytui_no_such_module"],
                     style="annotated")]
    project = find_alembic_project(write_project(tmp_path, specs))
    history = load_history(project)
    assert history.source == "static"
    assert "flytui_no_such_module" in (history.import_error or "")
    assert [(r.id, r.down_revisions, r.message) for r in history.revisions] == [
        ("bbb2", ("aaa1",), "add audit log"), ("aaa1", (), "create user table")]


def test_static_reader_handles_all_value_shapes(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text('"""merge heads\n\nRevision ID: m\n"""\nrevision: str = "m"\n'
                    'down_revision = ["a", "b"]\nbranch_labels = "feature"\ndepends_on = ("x",)\n')
    rev = read_revision_file(path)
    assert rev == Revision("m", ("a", "b"), "merge heads", path.resolve(), ("feature",), ("x",))
    (tmp_path / "n.py").write_text("x = 1\n")
    assert read_revision_file(tmp_path / "n.py") is None


def test_graph_branch_and_merge_shapes() -> None:
    h = _hist(_rev("base"), _rev("a", "base"), _rev("b", "base"), _rev("m", "a", "b"))
    texts = [(r.revision, r.text) for r in h.graph_rows()]
    assert texts == [("m", "* "), (None, "|\\ "), ("a", "* | "), ("b", "| * "), (None, "|/ "), ("base", "* ")]
    assert h.get("base").is_branch_point and h.get("m").is_merge
    two_heads = _hist(_rev("base"), _rev("a", "base"), _rev("b", "base"))
    assert [r.text for r in two_heads.graph_rows()] == ["* ", "| * ", "|/ ", "* "]
    octopus = _hist(_rev("o"), _rev("a", "o"), _rev("b", "o"), _rev("c", "o"), _rev("m", "a", "b", "c"))
    assert octopus.graph_rows()[0].text.startswith("*-.")


def test_states_pending_applied() -> None:
    h = _hist(_rev("base"), _rev("a", "base"), _rev("b", "base"), _rev("m", "a", "b"))
    assert [r.id for r in h.applied(["a"])] == ["a", "base"]
    assert [r.id for r in h.pending(["a"])] == ["b", "m"]
    assert h.states(["a"]) == {"m": "head", "a": "current", "b": "pending", "base": "applied"}
    assert h.state("m", ["m"]) == "current"
    assert [r.id for r in h.pending([])] == ["base", "b", "a", "m"] or [r.id for r in h.pending([])][0] == "base"


# ---------------------------------------------------------------- plan


def test_plan_linear() -> None:
    h = _hist(_rev("1"), _rev("2", "1"), _rev("3", "2"))
    ids = lambda revs: [r.id for r in revs]  # noqa: E731
    assert ids(plan(h, [], "head", "upgrade")) == ["1", "2", "3"]
    assert ids(plan(h, ["1"], "+1", "upgrade")) == ["2"]
    assert ids(plan(h, [], "+2", "upgrade")) == ["1", "2"]
    assert ids(plan(h, ["1"], "3", "upgrade")) == ["2", "3"]
    assert ids(plan(h, ["3"], "-1", "downgrade")) == ["3"]
    assert ids(plan(h, ["3"], "base", "downgrade")) == ["3", "2", "1"]
    assert ids(plan(h, ["3"], "1", "downgrade")) == ["3", "2"]
    with pytest.raises(ValueError):
        plan(h, ["3"], "+1", "upgrade")


def test_plan_multiple_heads() -> None:
    h = _hist(_rev("base"), _rev("a", "base"), _rev("b", "base"))
    with pytest.raises(ValueError, match="Multiple head revisions"):
        plan(h, ["base"], "head", "upgrade")
    with pytest.raises(ValueError, match="Ambiguous walk"):
        plan(h, ["base"], "+1", "upgrade")
    assert sorted(r.id for r in plan(h, ["base"], "heads", "upgrade")) == ["a", "b"]
    assert [r.id for r in plan(h, ["base"], "a", "upgrade")] == ["a"]


# ---------------------------------------------------------------- downgrade checks


def test_downgrade_checks(tmp_path: Path) -> None:
    specs = [RevSpec("ok1", None, "good", downgrade='op.drop_table("t")'),
             RevSpec("empty2", "ok1", "no way back", downgrade='"""Downgrade schema."""\npass'),
             RevSpec("fk3", "empty2", "unnamed fk", downgrade='op.drop_constraint(None, "todo", type_="foreignkey")')]
    history = load_history(find_alembic_project(write_project(tmp_path, specs)))
    assert check_downgrade(history.get("ok1")) == []
    [empty] = check_downgrade(history.get("empty2"))
    assert "empty" in empty.message
    [fk] = check_downgrade(history.get("fk3"))
    assert "drop_constraint(None" in fk.message and fk.revision == "fk3"


# ---------------------------------------------------------------- progress lines


@pytest.mark.parametrize(("line", "direction", "src", "dst", "msg", "rev"), [
    ("INFO  [alembic.runtime.migration] Running upgrade  -> 7c2f73b28d63, create user table",
     "upgrade", (), ("7c2f73b28d63",), "create user table", "7c2f73b28d63"),
    ("INFO  [alembic.runtime.migration] Running upgrade 7c2f73b28d63 -> 71bfea98db2b, create todo table",
     "upgrade", ("7c2f73b28d63",), ("71bfea98db2b",), "create todo table", "71bfea98db2b"),
    ("INFO  [alembic.runtime.migration] Running downgrade 0002_todo -> 0001_user, create todo table",
     "downgrade", ("0002_todo",), ("0001_user",), "create todo table", "0002_todo"),
    ("INFO  [alembic.runtime.migration] Running upgrade a, b -> m, merge a and b",
     "upgrade", ("a", "b"), ("m",), "merge a and b", "m"),
])
def test_parse_progress(line: str, direction: str, src: tuple, dst: tuple, msg: str, rev: str) -> None:
    p = parse_progress(line, 2, 5)
    assert p is not None
    assert (p.direction, p.from_revisions, p.to_revisions, p.message, p.revision, p.index, p.total) == (
        direction, src, dst, msg, rev, 2, 5)


def test_parse_progress_ignores_other_lines() -> None:
    assert parse_progress("INFO  [alembic.runtime.migration] Will assume transactional DDL.") is None


# ---------------------------------------------------------------- command detection


def test_detect_alembic_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert detect_alembic_command(tmp_path) == [sys.executable, "-m", "alembic"]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("alembic", "uv", "poetry"):
        exe = bindir / name
        exe.write_text("#!/bin/sh\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bindir))
    assert detect_alembic_command(tmp_path) == [str(bindir / "alembic")]
    (tmp_path / "uv.lock").write_text("")
    assert detect_alembic_command(tmp_path) == [str(bindir / "uv"), "run", "alembic"]
    (tmp_path / "poetry.lock").write_text("")
    assert detect_alembic_command(tmp_path) == [str(bindir / "poetry"), "run", "alembic"]
    venv_alembic = tmp_path / ".venv" / "bin" / "alembic"
    venv_alembic.parent.mkdir(parents=True)
    venv_alembic.write_text("#!/bin/sh\n")
    venv_alembic.chmod(0o755)
    assert detect_alembic_command(tmp_path) == [str(venv_alembic)]
    assert detect_alembic_command(tmp_path, "my-alembic --flag") == ["my-alembic", "--flag"]
    assert os.access(venv_alembic, os.X_OK)
