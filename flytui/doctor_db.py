"""Doctor checks about the database the app's ``DATABASE_URL`` names: which kind (Fly Postgres app, Fly Managed
Postgres cluster, other), whether an MPG cluster is ready, and whether app and cluster share org and region.

Separate functions, called by :func:`flytui.doctor.run_doctor`. Texts quoted from flyctl @ ad0172f:
``cluster is still initializing, wait a bit more`` (internal/command/mpg/v2/run_proxy.go), ``They must be in the same
organization to attach`` (internal/command/mpg/attach.go), ``managed postgres cluster "X" not found`` (mpg.go).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flytui.doctor import FAIL, FIX_DATABASE_URL, FIX_READ_DATABASE_URL, OK, SKIP, WARN, Check, _guard, _mk
from flytui.fly.errors import FlyctlError
from flytui.fly.mpg import MPG_STATUSES_BUSY

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.client import FlyClient


async def _app_org(client: "FlyClient", app: str) -> tuple[str, set[str]]:
    """(org slug, machine regions) of the app from ``fly status --json``."""
    st = await client.status(app)
    org = st.organization.slug if st.organization else ""
    return org, {m.region for m in st.machines if m.region}


async def check_database_kind(client: "FlyClient | None", app: str | None, database_url: str | None) -> Check:
    """Which database ``DATABASE_URL`` points at. ``data``: ``kind``, ``name`` (app or cluster id), ``org``."""
    c = _mk("database_kind", "Database behind DATABASE_URL",
            "flytui reaches a Fly Postgres app with `fly proxy` and a Managed Postgres cluster with `fly mpg proxy`; "
            "`fly launch` now creates a Managed Postgres cluster where the region has it.")
    from flytui.db.mpg_urls import database_target
    from flytui.db.urls import diagnose_url

    if database_url:
        t = database_target(database_url)
        c.data.update(kind=t.kind, name=t.name)
        if t.kind == "invalid":
            c.status, c.detail = SKIP, "the DATABASE_URL cannot be parsed (see the DATABASE_URL check)"
            return c
        c.status, c.detail = OK, t.label
        if t.kind == "mpg" and t.mpg is not None:
            endpoint = {"pgbouncer": "pooled (PgBouncer) endpoint", "direct": "direct endpoint"}.get(
                t.mpg.endpoint, "cluster host")
            c.detail += f" ({endpoint}; user {t.mpg.user or '-'}, database {t.mpg.database or '-'})"
            codes = {p.code for p in diagnose_url(database_url).problems}
            if "psycopg2-default" in codes:
                c.status = WARN
                c.detail += ("; `fly mpg attach` writes postgresql://, which makes SQLAlchemy load psycopg2 "
                             "(ModuleNotFoundError: No module named 'psycopg2')")
                c.fix, c.fix_action = "Use postgresql+psycopg:// (one-key fix).", FIX_DATABASE_URL
        return c
    if client is None or not app:
        c.status, c.detail = SKIP, "no app selected"
        return c

    async def body() -> None:
        org, _regions = await _app_org(client, app)
        c.data["org"] = org
        attached = [m for m in await client.mpg_list(org) if app in m.attached_apps] if org else []
        if attached:
            m = attached[0]
            c.status = OK
            c.detail = f"Managed Postgres cluster {m.name} ({m.id}) is attached to {app} (fly mpg list)"
            c.data.update(kind="mpg", name=m.id)
            return
        names = {s.name for s in await client.secrets(app)}
        if "DATABASE_URL" not in names:
            c.status, c.detail = SKIP, f"{app} has no DATABASE_URL secret and no Managed Postgres cluster attached"
            return
        c.status = WARN
        c.detail = (f"DATABASE_URL is set (value hidden by Fly.io) and no Managed Postgres cluster of {org} lists "
                    f"{app} as attached: probably a Fly Postgres app (fly postgres attach) or another database")
        c.fix = "Read it from a running machine (one key) to tell which database it names."
        c.fix_action = FIX_READ_DATABASE_URL

    return await _guard(c, body())


def refine_database_url(url_check: Check, kind: Check) -> Check:
    """When the value is hidden but the app is attached to an MPG cluster, say where the URL came from: `fly mpg
    attach` writes ``postgresql://`` (v2/run_attach.go), not the ``postgres://`` of `fly postgres attach`."""
    if kind.data.get("kind") == "mpg" and url_check.status == WARN and "value_masked" not in url_check.data:
        url_check.detail = (f"DATABASE_URL is set (value hidden by Fly.io) by `fly mpg attach` (cluster "
                            f"{kind.data.get('name')}): it starts with postgresql://, for which SQLAlchemy loads "
                            "psycopg2 unless your code rewrites it.")
    return url_check


async def check_mpg_cluster(client: "FlyClient | None", app: str | None, cluster_id: str | None,
                            fly_toml_region: str | None = None) -> list[Check]:
    """For an MPG target: the cluster is ready (not ``initializing``); app and cluster share org and region."""
    ready = _mk("mpg_ready", "Managed Postgres cluster ready",
                "Until the cluster is ready, `fly mpg proxy`/`connect` refuse and the app cannot connect.")
    place = _mk("mpg_placement", "App and cluster share org and region",
                "`fly mpg attach` refuses clusters of another organization; a cluster in another region adds "
                "a round trip to every query.")
    if not cluster_id:
        return []
    if client is None:
        ready.status = place.status = SKIP
        ready.detail = place.detail = "not logged in / no app: cannot ask flyctl"
        return [ready, place]
    state: dict[str, Any] = {}

    async def ready_body() -> None:
        try:
            detail = await client.mpg_status(cluster_id)
        except FlyctlError as exc:
            ready.status, ready.detail = FAIL, exc.message
            ready.fix = (f"The URL names a cluster flyctl cannot find (destroyed?). Attach an existing one: "
                         f"`fly secrets unset DATABASE_URL -a {app}` then `fly mpg attach CLUSTER -a {app}`.")
            return
        cl = detail.cluster
        state["cluster"] = cl
        if cl.status == "ready":
            ready.status, ready.detail = OK, f"{cl.name} ({cl.id}) is ready in {cl.region}"
        elif cl.status in MPG_STATUSES_BUSY:
            ready.status = FAIL
            ready.detail = (f"{cl.name} ({cl.id}) is {cl.status}: flyctl says \"cluster is still initializing, "
                            "wait a bit more\"")
            ready.fix = "Wait for it (fly mpg status shows ready), then re-run the doctor (r)."
        else:
            ready.status, ready.detail = FAIL, f"{cl.name} ({cl.id}) is {cl.status or 'in an unknown state'}"
            ready.fix = f"See `fly mpg status {cl.id}` and the dashboard."

    await _guard(ready, ready_body())
    cl = state.get("cluster")
    if cl is None:
        place.status, place.detail = SKIP, "cluster unknown"
        return [ready, place]

    async def place_body() -> None:
        org, regions = await _app_org(client, app) if app else ("", set())
        if fly_toml_region:
            regions = regions | {fly_toml_region}
        if org and cl.org_slug and org != cl.org_slug:
            place.status = FAIL
            place.detail = (f"app {app} is in organization {org}, but cluster {cl.id} is in organization "
                            f"{cl.org_slug}. They must be in the same organization to attach")
            place.fix = f"Create or pick a cluster in {org}: `fly mpg create --org {org}`."
            return
        if regions and cl.region not in regions:
            place.status = WARN
            place.detail = (f"{app} runs in {', '.join(sorted(regions))}, cluster {cl.name} in {cl.region}: every "
                            "query crosses regions")
            place.fix = f"Run the app in {cl.region} (primary_region in fly.toml) or use a cluster near the app."
            return
        place.status = OK
        place.detail = f"both in {org or cl.org_slug}" + (f", region {cl.region}" if regions else
                                                          f"; cluster region {cl.region}")

    await _guard(place, place_body())
    return [ready, place]
