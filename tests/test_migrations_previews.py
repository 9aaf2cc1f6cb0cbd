"""Previews per revision: a revision that cannot be rendered offline is named with the reason, and lint says
"not checked" for it — never "no findings". The revision shapes (``op.get_bind().commit()``,
``op.get_context().autocommit_block()``) are Alembic's documented ways to leave the transaction (alembic docs,
"Running ... outside of a transaction" / MigrationContext.autocommit_block)."""

from __future__ import annotations

import sys
from pathlib import Path

from flytui.db.alembic_service import find_alembic_project
from flytui.db.migrations import MigrationAction, MigrationSession
from flytui.ui.screens.migrations_render import render_action_preview, render_revision_preview
from tests.helpers.revgen import RevSpec, write_project

ALEMBIC = [sys.executable, "-m", "alembic"]


def _specs() -> list[RevSpec]:
    return [
        RevSpec("v1", None, "create t", upgrade='op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))',
                downgrade='op.drop_table("t")'),
        RevSpec("v2", "v1", "backfill outside the transaction",
                upgrade='op.execute("INSERT INTO t VALUES (1)")\nop.get_bind().commit()',
                downgrade='op.execute("DELETE FROM t")'),
        RevSpec("v3", "v2", "index", upgrade='op.create_index("ix_t_id", "t", ["id"])',
                downgrade='op.drop_index("ix_t_id")'),
    ]


async def test_unrenderable_revision_is_named_and_lint_not_checked(tmp_path: Path, pg_database: str) -> None:
    project = find_alembic_project(write_project(tmp_path / "p", _specs()))
    s = MigrationSession(project, alembic_command=ALEMBIC)
    s.set_url(pg_database)
    await s.connect()
    pv = await s.preview(MigrationAction("upgrade", "head"))
    assert pv.ok and pv.sql is not None and not pv.sql.ok
    assert [u.revision for u in pv.unrendered] == ["v2"]
    assert "op.get_bind() needs a live connection (line" in pv.unrendered[0].reason
    assert pv.checked == ("v1", "v3") and not pv.lint_checked
    assert any("ix_t_id" in f.statement for f in pv.findings)  # v3 was still linted on its own
    body = render_action_preview(pv)
    assert "not checked for 1 revision(s)" in body and "v2: " in body and "no findings" not in body

    rp = await s.preview_revision("v2")
    assert not rp.upgrade.ok and "op.get_bind() needs a live connection" in (rp.upgrade.error or "")
    text = render_revision_preview(rp)
    assert "Lint (upgrade): not checked" in text and "no findings" not in text
