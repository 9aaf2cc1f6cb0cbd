"""Squawk-like lint over the SQL an Alembic ``--sql`` preview produces.

Pure stdlib. Statements are split on ``;`` outside quotes/comments, each finding points at the line
where its statement starts. Rules (ids follow squawk's names where one exists):

- ``adding-required-field``: ``ADD COLUMN ... NOT NULL`` without ``DEFAULT``
- ``require-concurrent-index-creation``: ``CREATE INDEX`` without ``CONCURRENTLY`` (on an existing table)
- ``adding-foreign-key-constraint``: ``ADD FOREIGN KEY`` / ``REFERENCES`` on an existing table without ``NOT VALID``
- ``changing-column-type``: ``ALTER COLUMN ... TYPE``
- ``ban-drop-table`` / ``ban-drop-column`` / ``ban-drop-index``
- ``require-timeout-settings``: DDL on an existing table without an earlier ``SET lock_timeout`` (in the SQL,
  or in env.py: ``lint_sql(lock_timeout_set=True)``)
- ``renaming-column`` / ``renaming-table``

Tables created in the same script are new (empty, unused): rules that are about locking or rewriting
a live table do not fire for them (``CREATE TABLE`` with an inline FK is fine).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Severity = str  # "warning" | "error"


@dataclass(frozen=True)
class Finding:
    """One lint finding."""

    rule: str
    line: int            # 1-based line of the statement's start in the SQL text
    statement: str       # excerpt (one line, at most 120 chars)
    message: str
    advice: str
    severity: Severity = "warning"


@dataclass(frozen=True)
class Statement:
    """One SQL statement with its 1-based starting line; ``text`` has comments removed."""

    text: str
    line: int


def split_statements(sql: str) -> list[Statement]:
    """Split on ``;`` outside quotes, ``--``/``/* */`` comments and dollar-quoted bodies."""
    out: list[Statement] = []
    buf: list[str] = []
    line = 1
    start_line: int | None = None
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += sql.count("\n", i, end)
            buf.append(" ")
            i = end
            continue
        if ch in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            chunk = sql[i:j + 1]
        elif ch == "$" and (m := re.match(r"\$[A-Za-z_]*\$", sql[i:])):
            tag = m.group(0)
            end = sql.find(tag, i + len(tag))
            end = n if end < 0 else end + len(tag)
            chunk = sql[i:end]
        elif ch == ";":
            text = "".join(buf).strip()
            if text:
                out.append(Statement(text, start_line or line))
            buf, start_line = [], None
            i += 1
            continue
        else:
            chunk = ch
        if start_line is None and not chunk.isspace():
            start_line = line
        buf.append(chunk)
        line += chunk.count("\n")
        i += len(chunk)
    text = "".join(buf).strip()
    if text:
        out.append(Statement(text, start_line or line))
    return out


_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_QNAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})?"


def _norm_name(name: str) -> str:
    """Unquoted, schema-less, lower-cased (unless quoted) table name."""
    last = re.split(r'\.(?=(?:[^"]*"[^"]*")*[^"]*$)', name.strip())[-1].strip()
    return last[1:-1].replace('""', '"') if last.startswith('"') else last.lower()


def _excerpt(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 120 else one[:117] + "..."


def _flat(text: str) -> str:
    """Upper-cased, whitespace-collapsed copy with string literals blanked (for keyword matching)."""
    text = re.sub(r"'(?:[^']|'')*'", "''", text)
    return " ".join(text.split()).upper()


_DDL_EXISTING = re.compile(r"^(ALTER TABLE|CREATE (UNIQUE )?INDEX|DROP (TABLE|INDEX)|ALTER INDEX)\b")


def lint_sql(sql: str, *, lock_timeout_set: bool = False) -> list[Finding]:
    """All findings for ``sql``, in statement order. ``lock_timeout_set``: the project's env.py sets
    ``lock_timeout`` on the connection before the migrations run (their offline SQL does not show it)."""
    findings: list[Finding] = []
    created: set[str] = set()
    timeout_reported = False
    for st in split_statements(sql):
        flat = _flat(st.text)
        if re.match(r"^SET (LOCAL |SESSION )?LOCK_TIMEOUT\b", flat) or "SET_CONFIG('LOCK_TIMEOUT'" in flat.replace(" ", ""):
            lock_timeout_set = True
            continue
        m = re.match(rf"^CREATE (?:UNLOGGED |TEMP(?:ORARY)? )?TABLE (?:IF NOT EXISTS )?({_QNAME})", st.text.strip(),
                     re.IGNORECASE | re.DOTALL) if flat.startswith("CREATE") else None
        if m:
            created.add(_norm_name(m.group(1)))
            continue
        table = _target_table(st.text, flat)
        existing = table is not None and table not in created
        rules = _rules(st, flat, existing)
        if existing and _DDL_EXISTING.match(flat) and not lock_timeout_set and not timeout_reported:
            rules.append(_finding(
                "require-timeout-settings", st,
                "DDL on an existing table without SET lock_timeout: it can wait behind a long query while "
                "blocking every other query on the table.",
                "Start the migration with op.execute(\"SET lock_timeout = '5s'\") (and statement_timeout).",
            ))
            timeout_reported = True
        findings.extend(rules)
    return findings


def _target_table(text: str, flat: str) -> str | None:
    """The table a statement changes (ALTER TABLE / CREATE INDEX ... ON / DROP TABLE)."""
    patterns = [
        rf"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?({_QNAME})",
        rf"^CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?(?:{_IDENT} )?ON (?:ONLY )?({_QNAME})",
        rf"^DROP TABLE (?:IF EXISTS )?({_QNAME})",
    ]
    collapsed = " ".join(text.split())
    for pat in patterns:
        m = re.match(pat, collapsed, re.IGNORECASE)
        if m:
            return _norm_name(m.group(1))
    if flat.startswith("DROP INDEX") or flat.startswith("ALTER INDEX"):
        return "<index>"
    return None


def _finding(rule: str, st: Statement, message: str, advice: str, severity: Severity = "warning") -> Finding:
    return Finding(rule=rule, line=st.line, statement=_excerpt(st.text), message=message, advice=advice,
                   severity=severity)


def _rules(st: Statement, flat: str, existing: bool) -> list[Finding]:
    """Rules for one statement (``existing``: it changes a table not created in this script)."""
    out: list[Finding] = []
    if flat.startswith("ALTER TABLE"):
        for clause in _split_clauses(flat):
            out.extend(_alter_clause_rules(st, clause, existing))
    elif re.match(r"^CREATE (UNIQUE )?INDEX\b", flat):
        if existing and not re.match(r"^CREATE (UNIQUE )?INDEX CONCURRENTLY\b", flat):
            out.append(_finding(
                "require-concurrent-index-creation", st,
                "CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds.",
                "Use CREATE INDEX CONCURRENTLY inside op.get_context().autocommit_block() "
                "(op.create_index(..., postgresql_concurrently=True)).",
            ))
    elif flat.startswith("DROP TABLE"):
        out.append(_finding("ban-drop-table", st, "DROP TABLE deletes the table and all its data.",
                            "Make sure no deployed code still uses it; back up the data first.", "error"))
    elif flat.startswith("DROP INDEX"):
        if not flat.startswith("DROP INDEX CONCURRENTLY"):
            out.append(_finding("ban-drop-index", st,
                                "DROP INDEX takes an ACCESS EXCLUSIVE lock and may slow queries that used it.",
                                "Use DROP INDEX CONCURRENTLY in an autocommit block, after checking it is unused."))
    return out


def _split_clauses(flat: str) -> list[str]:
    """ALTER TABLE t A, B, C -> [A, B, C] (commas inside parentheses kept)."""
    m = re.match(rf"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{_QNAME} ", flat, re.IGNORECASE)
    body = flat[m.end():] if m else flat
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _alter_clause_rules(st: Statement, clause: str, existing: bool) -> list[Finding]:
    out: list[Finding] = []
    if clause.startswith("ADD") and not clause.startswith("ADD CONSTRAINT") and not re.match(
            r"^ADD (PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY|EXCLUDE)\b", clause):
        if existing and re.search(r"\bNOT NULL\b", clause) and not re.search(r"\bDEFAULT\b", clause) \
                and not re.search(r"\b(SERIAL|BIGSERIAL|SMALLSERIAL|GENERATED)\b", clause):
            out.append(_finding(
                "adding-required-field", st,
                "ADD COLUMN ... NOT NULL without DEFAULT fails on a table that has rows.",
                "Add the column nullable (or with a server_default), backfill, then SET NOT NULL.", "error",
            ))
        if existing and re.search(r"\bREFERENCES\b", clause) and "NOT VALID" not in clause:
            out.append(_fk_finding(st))
    if existing and re.search(r"\bFOREIGN KEY\b", clause) and "NOT VALID" not in clause \
            and re.match(r"^ADD\b", clause):
        out.append(_fk_finding(st))
    if re.match(r"^ALTER (COLUMN )?\S+ (SET DATA )?TYPE\b", clause):
        out.append(_finding(
            "changing-column-type", st,
            "ALTER COLUMN ... TYPE rewrites the table (and its indexes) under an ACCESS EXCLUSIVE lock "
            "for most type changes.",
            "Add a new column, backfill in batches, switch the code, then drop the old column.",
        ))
    if re.match(r"^DROP (COLUMN )?(?!CONSTRAINT\b)\S+", clause) and not clause.startswith("DROP CONSTRAINT") \
            and not clause.startswith("DROP DEFAULT") and not clause.startswith("DROP NOT NULL"):
        out.append(_finding(
            "ban-drop-column", st, "DROP COLUMN deletes the column's data; running code that reads it breaks.",
            "Stop using the column in the deployed code first, then drop it in a later release.", "error",
        ))
    if re.match(r"^RENAME (COLUMN )?\S+ TO\b", clause) and not clause.startswith("RENAME CONSTRAINT"):
        out.append(_finding(
            "renaming-column", st, "Renaming a column breaks the running app version that still uses the old name.",
            "Add the new column and keep both during a deploy, or deploy code that handles both names first.",
        ))
    elif clause.startswith("RENAME TO"):
        out.append(_finding(
            "renaming-table", st, "Renaming a table breaks the running app version that still uses the old name.",
            "Create a view with the old name during the transition, or deploy in two steps.",
        ))
    return out


def _fk_finding(st: Statement) -> Finding:
    return _finding(
        "adding-foreign-key-constraint", st,
        "Adding a foreign key validates every row while holding locks on both tables.",
        "Add it with NOT VALID (op.create_foreign_key(..., postgresql_not_valid=True)), then "
        "VALIDATE CONSTRAINT in a later migration.",
    )
