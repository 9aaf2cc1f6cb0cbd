"""Text of the migrations screen: header, revision detail, previews, run results.

Pure functions from ``flytui.db`` models to Textual markup strings; every text from outside (revision messages,
paths, SQL, alembic output) goes through :func:`esc`, so it is never read as markup.
"""
from __future__ import annotations

from typing import Any


def esc(text: str) -> str:
    """Escape ``[`` for Textual markup."""
    return text.replace("[", r"\[")


def state_label(rev: Any, snap: Any) -> str:
    """applied / pending / current (or not connected), then head / merge / branch point: a pending head reads
    ``pending · head``, never a bare ``head``."""
    state = snap.states.get(rev.id, "pending") if snap.current is not None else "not connected"
    if state == "head":  # History.state's name for a head not applied yet
        state = "pending"
    extra = [x for x, on in (("merge", rev.is_merge), ("branch point", rev.is_branch_point)) if on]
    if rev.is_head:
        extra.insert(0, "head")
    return " · ".join([state, *extra])


def table_rows(snap: Any, root: Any) -> dict[str, tuple[str, ...]]:
    """``{revision id: (graph, id, state, message, file)}`` in history order."""
    from flytui.db.alembic_graph import graph_cells

    graph = graph_cells(snap.history.graph_rows())  # a revision's commit line + the |/ |\ lines below it
    rows: dict[str, tuple[str, ...]] = {}
    for rev in snap.history.revisions:
        path = str(rev.path.relative_to(root)) if rev.path and rev.path.is_relative_to(root) else str(rev.path)
        rows[rev.id] = (graph.get(rev.id, "*"), rev.id, state_label(rev, snap), rev.message, path)
    return rows


def header_markup(session: Any, snapshot: Any, known_url: str | None, read_only: bool) -> str:
    """The first header line: project, database and tunnel, history source, local/remote, read-only."""
    parts = ["[b]Migrations[/b]"]
    s = session
    if s is not None:
        parts.append(esc(str(s.project.root)))
        if s.has_url:
            state = s.tunnel_state
            style = {"up": "$success", "direct": "$success", "connecting": "$warning",
                     "dropped": "$error", "failed": "$error"}.get(state, "$foreground-muted")
            where = f"[b]{esc(s.target_label)}[/b]"
            port = f" :{s.tunnel.local_port}" if s.tunnel is not None and s.tunnel.local_port else ""
            parts.append(f"{where} · tunnel [{style}]{state}{port}[/] · {esc(s.masked_url or '')}")
        elif known_url:
            from flytui.db.urls import mask_url

            parts.append(f"not connected · [$accent]c, enter: connect with the DATABASE_URL flytui knows[/] "
                         f"({esc(mask_url(known_url))}) · F: read the app's")
        else:
            parts.append("no database URL (c: enter one or $ENV_VAR, F: read the app's)")
        if snapshot is not None:
            h = snapshot.history
            via = " (project's Python; e)" if "project's Python" in getattr(h, "how", "") else ""
            src = (f"history: alembic{via}" if h.source == "alembic"
                   else "[reverse $warning] history: static read (revision modules did not import; e) [/]")
            parts.append(src)
        parts.append(f"[reverse $accent] REMOTE on {s.remote_app} [/]" if s.remote else "local alembic")
    if read_only:
        parts.append("[reverse $warning] READ-ONLY [/]")
    return "  ·  ".join(parts)


def detail_markup(rev: Any, snapshot: Any) -> str:
    """The side panel for the selected revision."""
    lines = [f"[b]{esc(rev.id)}[/b]  {esc(rev.message)}",
             "state: " + (state_label(rev, snapshot) if snapshot.current is not None
                          else "unknown until connected (c: database URL)"),
             f"revises: {esc(', '.join(rev.down_revisions)) or '<base>'}"]
    children = [r.id for r in snapshot.history.revisions if rev.id in r.down_revisions]
    lines.append(f"next: {esc(', '.join(children)) or '(head)'}")
    if rev.branch_labels:
        lines.append(f"branch labels: {esc(', '.join(rev.branch_labels))}")
    if rev.depends_on:
        lines.append(f"depends on: {esc(', '.join(rev.depends_on))}")
    lines.append(f"file: {esc(str(rev.path))}")
    lines.append("\n[i]p: SQL preview of upgrade and downgrade[/i]")
    return "\n".join(lines)


def progress_text(p: Any) -> str:
    """One run step, plain: ``step 2/3: upgrade 0001 → 0002  message``."""
    total = f"/{p.total}" if p.total else ""
    src = ", ".join(p.from_revisions) or "base"
    dst = ", ".join(p.to_revisions) or "base"
    return f"step {p.index}{total}: {p.direction} {src} → {dst}  {p.message}"


def remote_line(summary: Any) -> str:
    """For a remote run: where it ran, whether the exit code is exact, and the runner's own ``result.note``.

    E.g. ``remote: ssh on 3d8d… · exit code exact`` or ``remote: ssh-console on 3d8d… · exit code collapsed by
    fly ssh console -C · Ran with `fly ssh console -C` because …``. Empty for a local run.
    """
    if not getattr(summary, "remote", False):
        return ""
    r = summary.result
    where = f"{getattr(r, 'transport', 'ssh')} on {getattr(r, 'machine', '') or 'a machine'}"
    exact = "exit code exact" if summary.exit_code_exact else "exit code collapsed to 1 by fly ssh console -C"
    note = getattr(r, "note", "")
    return f"remote: {where} · {exact}" + (f" · {note}" if note else "")


def render_findings(findings: Any) -> list[str]:
    out = []
    for f in findings:
        color = "$error" if f.severity == "error" else "$warning"
        out.append(f"[{color}]⚠ {f.rule}[/] line {f.line}: {esc(f.message)}\n    {esc(f.statement)}\n"
                   f"    → {esc(f.advice)}")
    return out


def render_action_preview(pv: Any) -> str:
    """Body of the confirm dialog: revisions, warnings, lint, SQL."""
    lines = [f"Database at: [b]{esc(', '.join(pv.current)) or 'base'}[/b]"]
    if pv.revisions:
        lines.append(f"Will run {len(pv.revisions)} revision(s), in order:")
        lines += [f"  {i}. {esc(r.id)}  {esc(r.message)}" for i, r in enumerate(pv.revisions, 1)]
    for w in pv.warnings:
        lines.append(f"[b $warning]⚠ {esc(w)}[/]")
    for w in pv.downgrade_warnings:
        lines.append(f"[b $warning]⚠ {esc(w.revision)} line {w.line}: {esc(w.message)}[/]")
    unrendered = getattr(pv, "unrendered", ())
    if pv.findings:
        lines.append(f"[b]Lint: {len(pv.findings)} finding(s)[/b]")
        lines += render_findings(pv.findings)
    elif pv.sql is not None and getattr(pv, "lint_checked", pv.sql.ok):
        lines.append("[$success]Lint: no findings[/]")
    if unrendered:
        lines.append(f"[b $warning]Lint: not checked for {len(unrendered)} revision(s) — no offline SQL:[/]")
        lines += [f"  {esc(u.revision)}: {esc(u.reason)}" for u in unrendered]
    if pv.sql is not None:
        lines.append(f"[b]SQL ({esc(pv.sql.range)}):[/b]")
        lines.append(esc(pv.sql.sql.strip()) if pv.sql.ok else f"[$error]preview failed:[/] {esc(pv.sql.error or '')}")
    return "\n".join(lines)


def render_revision_preview(pv: Any) -> str:
    rev = pv.revision
    lines = [f"[b]{esc(rev.id)}[/b]  {esc(rev.message)}", f"file: {esc(str(rev.path))}", ""]
    for title, sql in (("upgrade", pv.upgrade), ("downgrade", pv.downgrade)):
        lines.append(f"[b]{title} --sql {esc(sql.range)}[/b]")
        lines.append(esc(sql.sql.strip()) if sql.ok else f"[$error]cannot render:[/] {esc(sql.error or '')}")
        lines.append("")
    if pv.upgrade_findings:
        lines.append("[b]Lint (upgrade)[/b]")
        lines += render_findings(pv.upgrade_findings)
    elif pv.upgrade.ok:
        lines.append("[$success]Lint (upgrade): no findings[/]")
    else:
        lines.append("[b $warning]Lint (upgrade): not checked — the SQL could not be rendered offline[/]")
    for w in pv.downgrade_warnings:
        lines.append(f"[b $warning]⚠ downgrade line {w.line}: {esc(w.message)}[/]")
    return "\n".join(lines)
