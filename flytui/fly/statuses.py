"""The status of many apps at once (the apps view's refresh): ``client.status(name)`` for each, bounded."""
from __future__ import annotations

import asyncio
from typing import Any

#: ``fly status`` calls in flight at most (each one is a flyctl child, or a Machines API request)
STATUS_CONCURRENCY = 8


async def gather_statuses(client: Any, names: list[str], limit: int = STATUS_CONCURRENCY) -> dict[str, Any]:
    """``client.status(name)`` for every app, at most ``limit`` at a time; failures map to the exception."""
    sem = asyncio.Semaphore(limit)

    async def one(name: str) -> tuple[str, Any]:
        async with sem:
            try:
                return name, await client.status(name)
            except Exception as exc:  # noqa: BLE001 - reported per row, never crashes the refresh
                return name, exc

    return dict(await asyncio.gather(*(one(n) for n in names)))
