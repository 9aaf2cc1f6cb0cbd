"""Shared pytest setup. Fixtures live in plugins, one file per room:
- tests/plugins/pg.py       real embedded PostgreSQL for the session (pg_server, pg_database)
- tests/plugins/sandbox.py  a fresh sandbox flyctl state per test (sandbox, flyctl_path, runner, client)
- tests/plugins/flakeinfo.py  a failing test says its worker, the tests run before it, the seed, how to rerun
"""
pytest_plugins = ["tests.plugins.pg", "tests.plugins.sandbox", "tests.plugins.reliability", "tests.plugins.flakeinfo"]
