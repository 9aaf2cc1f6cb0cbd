"""SQL lint rules: each one positive and negative, on SQL shaped like Alembic's --sql output."""

from __future__ import annotations

import pytest

from flytui.db.sqllint import lint_sql, split_statements

PREFIX = "SET lock_timeout = '5s';\n"  # keeps require-timeout-settings out of the per-rule checks

DEMO_UPGRADE = """BEGIN;

-- Running upgrade 0001_user -> 0002_todo

CREATE TABLE todo (
    id SERIAL NOT NULL,
    title VARCHAR(255) NOT NULL,
    done BOOLEAN DEFAULT false NOT NULL,
    owner_id INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(owner_id) REFERENCES "user" (id) ON DELETE CASCADE
);

INSERT INTO "user" (email, full_name) VALUES ('demo@example.com', 'Demo');

UPDATE alembic_version SET version_num='0002_todo' WHERE alembic_version.version_num = '0001_user';

COMMIT;
"""


def rules(sql: str) -> list[str]:
    return [f.rule for f in lint_sql(sql)]


@pytest.mark.parametrize(("rule", "bad", "good"), [
    ("adding-required-field",
     'ALTER TABLE "user" ADD COLUMN age INTEGER NOT NULL;',
     'ALTER TABLE "user" ADD COLUMN age INTEGER DEFAULT 0 NOT NULL;'),
    ("adding-required-field",
     "ALTER TABLE account ADD COLUMN plan VARCHAR(20) NOT NULL;",
     "ALTER TABLE account ADD COLUMN plan VARCHAR(20);"),
    ("require-concurrent-index-creation",
     'CREATE INDEX ix_user_email ON "user" (email);',
     'CREATE INDEX CONCURRENTLY ix_user_email ON "user" (email);'),
    ("require-concurrent-index-creation",
     "CREATE UNIQUE INDEX ix_a ON account (email);",
     "CREATE TABLE account (id SERIAL NOT NULL, email TEXT);\nCREATE UNIQUE INDEX ix_a ON account (email);"),
    ("adding-foreign-key-constraint",
     "ALTER TABLE todo ADD CONSTRAINT fk_owner FOREIGN KEY(owner_id) REFERENCES \"user\" (id);",
     "ALTER TABLE todo ADD CONSTRAINT fk_owner FOREIGN KEY(owner_id) REFERENCES \"user\" (id) NOT VALID;"),
    ("adding-foreign-key-constraint",
     "ALTER TABLE todo ADD COLUMN team_id INTEGER REFERENCES team (id);",
     "CREATE TABLE todo (id SERIAL, team_id INTEGER REFERENCES team (id));"),
    ("changing-column-type",
     "ALTER TABLE todo ALTER COLUMN title TYPE TEXT;",
     "ALTER TABLE todo ALTER COLUMN title SET DEFAULT 'x';"),
    ("ban-drop-table", "DROP TABLE todo;", "DROP VIEW todo_view;"),
    ("ban-drop-column", "ALTER TABLE todo DROP COLUMN done;", "ALTER TABLE todo DROP CONSTRAINT fk_owner;"),
    ("ban-drop-index", "DROP INDEX ix_user_email;", "DROP INDEX CONCURRENTLY ix_user_email;"),
    ("renaming-column",
     "ALTER TABLE todo RENAME COLUMN title TO name;",
     "ALTER TABLE todo RENAME CONSTRAINT fk_owner TO fk_todo_owner;"),
    ("renaming-table", "ALTER TABLE todo RENAME TO task;", "ALTER TABLE todo ALTER COLUMN done DROP DEFAULT;"),
])
def test_rule_positive_and_negative(rule: str, bad: str, good: str) -> None:
    found = lint_sql(PREFIX + bad)
    assert rule in [f.rule for f in found]
    finding = next(f for f in found if f.rule == rule)
    assert finding.line == 2 and finding.message and finding.advice
    assert finding.statement == " ".join(bad.rstrip(";").split())
    assert rule not in rules(PREFIX + good)


def test_lock_timeout_rule() -> None:
    sql = 'ALTER TABLE "user" ADD COLUMN nickname TEXT;\nALTER TABLE "user" ADD COLUMN bio TEXT;'
    found = lint_sql(sql)
    assert [f.rule for f in found] == ["require-timeout-settings"]  # reported once, at the first DDL
    assert found[0].line == 1
    assert rules("SET lock_timeout TO '2s';\n" + sql) == []
    assert rules("SET LOCAL lock_timeout = 5000;\n" + sql) == []
    # a new table needs no lock_timeout
    assert rules("CREATE TABLE t (id INT);\nCREATE INDEX ix ON t (id);") == []


def test_demo_second_revision_is_clean() -> None:
    assert lint_sql(DEMO_UPGRADE) == []


def test_keywords_in_strings_and_comments_are_ignored() -> None:
    sql = ("-- DROP TABLE users;\n/* ALTER TABLE x DROP COLUMN y; */\n"
           "INSERT INTO note (body) VALUES ('DROP TABLE users; ALTER TABLE a RENAME TO b');\n")
    assert lint_sql(sql) == []


def test_line_numbers_and_multi_clause() -> None:
    sql = ("BEGIN;\n\n-- Running upgrade a -> b\n\nALTER TABLE todo\n    ADD COLUMN prio INTEGER NOT NULL,\n"
           "    ALTER COLUMN title TYPE TEXT;\n")
    found = lint_sql(PREFIX + sql)
    assert {(f.rule, f.line) for f in found} == {("adding-required-field", 6), ("changing-column-type", 6)}


def test_split_statements_keeps_dollar_quotes() -> None:
    sts = split_statements("DO $$ BEGIN PERFORM 1; END $$;\nSELECT 1;")
    assert [s.text for s in sts] == ["DO $$ BEGIN PERFORM 1; END $$", "SELECT 1"]
    assert [s.line for s in sts] == [1, 2]
