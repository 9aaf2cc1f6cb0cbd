"""Write synthetic Alembic projects for tests: long chains with branches and merges, failing or slow
revisions, revisions that import a missing module.

    specs = branching_chain(500)
    write_project(tmp_path / "proj", specs)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
path_separator = os

[loggers]
keys = root,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

ENV_PY = '''\
"""Generic env.py: DATABASE_URL from the environment, transactional DDL for the whole run."""
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def run_migrations_offline():
    context.configure(url=os.environ["DATABASE_URL"], literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''


@dataclass
class RevSpec:
    """One revision file to write."""

    id: str
    down: str | tuple[str, ...] | list[str] | None
    message: str
    upgrade: str = "pass"
    downgrade: str = "pass"
    style: str = "plain"              # plain: `revision = ...`; annotated: `revision: str = ...`
    branch_labels: tuple[str, ...] | None = None
    depends_on: str | None = None
    extra_imports: list[str] = field(default_factory=list)


def render_revision(spec: RevSpec) -> str:
    """Source of one revision module (shaped like Alembic's script.py.mako output)."""
    down = spec.down
    revises = ", ".join(down) if isinstance(down, (tuple, list)) else (down or "")
    if spec.style == "annotated":
        assigns = (f"revision: str = {spec.id!r}\n"
                   f"down_revision: Union[str, Sequence[str], None] = {down!r}\n"
                   f"branch_labels: Union[str, Sequence[str], None] = {spec.branch_labels!r}\n"
                   f"depends_on: Union[str, Sequence[str], None] = {spec.depends_on!r}\n")
    else:
        assigns = (f"revision = {spec.id!r}\ndown_revision = {down!r}\n"
                   f"branch_labels = {spec.branch_labels!r}\ndepends_on = {spec.depends_on!r}\n")
    imports = "".join(f"{line}\n" for line in spec.extra_imports)
    indent = lambda body: "\n".join("    " + line for line in body.splitlines())  # noqa: E731
    return (f'"""{spec.message}\n\nRevision ID: {spec.id}\nRevises: {revises}\n'
            f'Create Date: 2024-05-18 10:00:00.000000\n\n"""\n'
            "from typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n"
            f"{imports}\n\n# revision identifiers, used by Alembic.\n{assigns}\n\n"
            f"def upgrade() -> None:\n{indent(spec.upgrade)}\n\n\n"
            f"def downgrade() -> None:\n{indent(spec.downgrade)}\n")


def write_project(dest: Path, specs: list[RevSpec], *, env_py: str = ENV_PY) -> Path:
    """Write alembic.ini, migrations/env.py and one file per revision under ``dest``."""
    versions = dest / "migrations" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (dest / "alembic.ini").write_text(ALEMBIC_INI)
    (dest / "migrations" / "env.py").write_text(env_py)
    (dest / "migrations" / "script.py.mako").write_text('"""${message}"""\n')
    for spec in specs:
        slug = spec.message.replace(" ", "_")[:30]
        (versions / f"{spec.id}_{slug}.py").write_text(render_revision(spec))
    return dest


def branching_chain(n: int, seed: int = 7) -> list[RevSpec]:
    """``n`` revisions (ids ``r0000``...) with regular branch points, 2- and 3-way merges, both
    assignment styles, tuple and list ``down_revision`` values, a branch label and one long-lived
    open branch (so the history ends with two heads)."""
    rng = random.Random(seed)
    specs: list[RevSpec] = []
    counter = 0

    def new(down: str | tuple[str, ...] | list[str] | None, msg: str, **kw: object) -> str:
        nonlocal counter
        rid = f"r{counter:04d}"
        counter += 1
        style = "annotated" if counter % 3 == 0 else "plain"
        specs.append(RevSpec(rid, down, msg, style=style, **kw))  # type: ignore[arg-type]
        return rid

    tip = new(None, "initial schema", branch_labels=("core",))
    side_tip: str | None = None
    merges = 0
    while counter < n - 8:
        kind = rng.random()
        if kind < 0.12:
            ways = 3 if merges % 4 == 1 else 2
            lanes = []
            for w in range(ways):
                t = tip
                for _ in range(rng.randint(1, 3)):
                    t = new(t, f"feature {counter} lane {w}")
                lanes.append(t)
            down = tuple(lanes) if merges % 2 == 0 else list(lanes)
            tip = new(down, f"merge {ways} heads")
            merges += 1
        elif kind < 0.14 and side_tip is None:
            side_tip = new(tip, "start long-lived side branch")
        elif kind < 0.2 and side_tip is not None:
            side_tip = new(side_tip, f"side work {counter}")
        else:
            tip = new(tip, f"change {counter}")
    while counter < n - 1:
        tip = new(tip, f"change {counter}")
    if side_tip is None:
        new(tip, "open side branch")
    else:
        new(side_tip, "side branch head")
    return specs


def table_chain(ids: list[str], *, fail_at: str | None = None, sleep_at: tuple[str, float] | None = None
                ) -> list[RevSpec]:
    """A linear chain where each revision creates table ``t_<id>`` (and drops it on downgrade).

    ``fail_at``: that revision raises after creating its table. ``sleep_at``: (revision, seconds)
    runs ``pg_sleep`` so the run stays busy.
    """
    specs = []
    down: str | None = None
    for rid in ids:
        body = f'op.create_table("t_{rid}", sa.Column("id", sa.Integer, primary_key=True))'
        if sleep_at and sleep_at[0] == rid:
            body += f'\nop.execute("SELECT pg_sleep({sleep_at[1]})")'
        if rid == fail_at:
            body += f'\nraise RuntimeError("boom in {rid}")'
        specs.append(RevSpec(rid, down, f"create t_{rid}", upgrade=body,
                             downgrade=f'op.drop_table("t_{rid}")'))
        down = rid
    return specs
