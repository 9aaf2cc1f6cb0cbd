"""Every app's status for the apps pane: one Machines API ``ListApps`` per organization, else one read per app.

``fly status -a APP`` per app is a flyctl process plus at least two round trips each (GraphQL ``GetAppCompact`` +
flaps ``ListActive``: flyctl internal/command/status @ ad0172f). When the Machines API fast path is ready,
``GET /v1/apps?org_slug=ORG`` (fly-go flaps ``ListApps`` @ 22d6e518) answers for every app of an organization at
once (:meth:`flytui.fly.machines_api.MachinesAPI.app_states`). Apps it does not cover (API off or failing — the
command log says ``falling back to flyctl`` —, an app missing from the answer, an entry without ``status``, an
app without a known organization) get ``client.status(name)``, at most ``limit`` at a time.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from .client import FlyClient
    from .models import AppStatus

#: per-app reads in flight at once (flyctl processes or API requests)
STATUS_CONCURRENCY = 8


async def gather_statuses(client: FlyClient, names: list[str], limit: int = STATUS_CONCURRENCY,
                          orgs: Mapping[str, str] | None = None) -> dict[str, AppStatus | Exception]:
    """``{name: AppStatus or the exception}`` for every app of ``names``; ``orgs``: ``{name: org slug}`` (from
    the apps list) enables the one-request-per-organization path. Failures map to the exception, per app."""
    got: dict[str, AppStatus | Exception] = {}
    api = client.api
    if api is not None and orgs and api.ready:
        wanted = set(names)
        slugs = sorted({orgs[n] for n in names if orgs.get(n)})
        answers = await asyncio.gather(*(api.app_states(slug) for slug in slugs))
        for slug, states in zip(slugs, answers, strict=True):
            for name, st in (states or {}).items():
                if name in wanted and orgs.get(name) == slug:
                    got[name] = st
    sem = asyncio.Semaphore(limit)

    async def one(name: str) -> tuple[str, AppStatus | Exception]:
        async with sem:
            try:
                return name, await client.status(name)
            except Exception as exc:  # noqa: BLE001 - reported per row, never crashes the refresh
                return name, exc

    rest = [n for n in names if n not in got]
    got.update(dict(await asyncio.gather(*(one(n) for n in rest))))
    return {n: got[n] for n in names}
