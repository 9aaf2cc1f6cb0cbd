"""``fly mpg proxy CLUSTER -p PORT``: a :class:`~flytui.db.tunnel.Tunnel` to a Fly Managed Postgres cluster.

Same supervision, readiness, reconnect and close rules as ``fly proxy`` tunnels; only the argv differs.
flyctl @ ad0172f: internal/command/mpg/proxy.go (``-p/--local-port``, default 16380; ``-b/--bind-addr``; no
``--watch-stdin``, so the process group is terminated to stop it) and proxy/connect.go, whose ready line
``Proxying localhost:PORT to remote [DIRECT_IP]:5432`` is the one ``fly proxy`` prints (:data:`MPG_READY_RE`
equals :data:`flytui.db.tunnel.READY_RE`'s grammar, which the base class waits for).

In a :class:`~flytui.db.tunnel.TunnelManager` an MPG tunnel's key is ``(cluster_id, 5432, MPG_HOST)``:
``manager.acquire_mpg(cluster_id)`` / ``manager.release(tunnel)``.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flytui.db.tunnel import Tunnel

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.runner import FlyctlRunner

MPG_HOST = "mpg"
MPG_REMOTE_PORT = 5432
MPG_READY_RE = re.compile(r"Proxying (?:localhost|127\.0\.0\.1|\[::1\]|[\w.\-]+):(?P<local>\d+) to remote "
                          r"\[(?P<host>[^\]]*)\]:(?P<remote>\d+)")


class MpgTunnel(Tunnel):
    """``fly mpg proxy CLUSTER -p PORT`` kept up like a ``fly proxy`` tunnel."""

    kind = "mpg"
    ready_re = MPG_READY_RE

    def __init__(self, runner: "FlyctlRunner", cluster_id: str, remote_port: int = MPG_REMOTE_PORT,
                 local_port: int = 0, host: str | None = None, **options: Any) -> None:
        if not cluster_id or cluster_id.startswith("-") or any(c in cluster_id for c in " \n\r\x00"):
            raise ValueError(f"cluster id {cluster_id!r} is not valid")
        del remote_port, host  # always the cluster's 5432; the host slot marks the key as MPG
        super().__init__(runner, cluster_id, MPG_REMOTE_PORT, local_port, host=MPG_HOST, **options)

    @property
    def cluster_id(self) -> str:
        return self.app

    @property
    def target(self) -> str:
        return f"mpg {self.app}:{MPG_REMOTE_PORT}"

    def _argv(self, port: int) -> list[str]:
        argv = ["mpg", "proxy", self.app, "-p", str(port)]
        if self.bind != "127.0.0.1":
            argv += ["-b", self.bind]
        return argv
