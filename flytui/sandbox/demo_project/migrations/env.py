"""Alembic environment for the demo app.

- The URL is ``DATABASE_URL`` from the environment, used as is (no ``postgres://``
  rewriting: a Fly ``postgres://`` URL fails here exactly like in the app).
- A host (flytui, tests) may pass its own Connection in ``config.attributes["connection"]``.
- ``config.attributes["transaction_per_migration"]`` (default False: one transaction for
  the whole run, so a failure rolls every step back) and
  ``config.attributes["configure_logger"]`` (default True) are honoured.
"""

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from app.models import Base

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def get_url() -> str:
    """DATABASE_URL from the environment, else sqlalchemy.url from the config."""
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("DATABASE_URL is not set")
    return url


def run_migrations_offline() -> None:
    """``--sql`` mode: emit SQL to the output buffer, no database connection."""
    context.configure(
        url=get_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=config.attributes.get("transaction_per_migration", False),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection) -> None:
    """Run the migrations on an open Connection."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        transaction_per_migration=config.attributes.get("transaction_per_migration", False),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Online mode: the host's Connection if given, else an engine from DATABASE_URL."""
    connectable = config.attributes.get("connection", None)
    if connectable is None:
        engine = engine_from_config(
            {"sqlalchemy.url": get_url()}, prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        with engine.connect() as connection:
            do_run_migrations(connection)
    else:
        do_run_migrations(connectable)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
