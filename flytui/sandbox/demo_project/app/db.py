"""Database engine and session factory.

The URL is taken from ``DATABASE_URL`` exactly as it is set. ``fly postgres attach``
sets a ``postgres://...`` URL, which SQLAlchemy 2 rejects with
``NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:postgres``: set the secret
to ``postgresql+psycopg://...`` (psycopg 3) to fix it.
"""

import os

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

DATABASE_URL = os.environ["DATABASE_URL"]

engine = create_engine(DATABASE_URL, pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine, expire_on_commit=False)


def get_session():
    """FastAPI dependency: one session per request."""
    with SessionLocal() as session:
        yield session
