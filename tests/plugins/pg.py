"""Real embedded PostgreSQL fixtures (owned by the db/postgres work)."""
