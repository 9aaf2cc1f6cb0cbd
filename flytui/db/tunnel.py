"""``fly proxy`` tunnels: one supervised flyctl process per (app, remote port, host), plain asyncio.

A :class:`Tunnel` runs ``fly proxy LOCAL:REMOTE [HOST] -a APP --watch-stdin`` through the flyctl runner
(stdin kept open, so the proxy exits by itself if flytui dies), with a local port it picked itself. It is **up**
when flyctl printed ``Proxying localhost:<port> to remote [<host>]:<port>`` AND the local port accepts TCP
connections. A supervisor task notices the proxy exiting, reports ``dropped`` and reconnects with backoff
(1, 2, 4 ... capped at 30 s) on the same local port, for a bounded number of attempts, then ``failed``.
Once a tunnel has been up its local port is never changed: URLs handed out (the migrations session, the
tunnels pane's psql line) point at it. A reconnect that finds the port still taken (the killed proxy's socket
not yet released) waits and tries the same port again; only the very first open may move to another free port.

:class:`TunnelManager` shares tunnels across the app: reference-counted ``acquire``/``release``, idle tunnels
closed after a delay, ``close_all()`` on exit, ``list()`` for the tunnels pane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from flytui.fly.errors import AppNotFound, FlyctlError, FlyctlTimeout, FlyError, NotLoggedIn, PaymentRequired

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.runner import FlyctlRunner, FlyProcess

__all__ = ["Tunnel", "TunnelManager", "TunnelInfo", "TunnelState", "READY_RE", "TunnelKey", "free_port"]

log = logging.getLogger(__name__)

TunnelState = Literal["connecting", "up", "dropped", "closed", "failed"]
TunnelKey = tuple[str, int, str | None]
Listener = Callable[["Tunnel", TunnelState], None]

READY_RE = re.compile(r"Proxying (?:local port |(?:localhost|127\.0\.0\.1|\[::1\]|[\w.\-]+):)(?P<local>\d+) "
                      r"to remote \[(?P<host>[^\]]*)\]:(?P<remote>\d+)")
"""flyctl's readiness line (proxy/connect.go), both generations: ``Proxying localhost:N to remote [HOST]:P``
since v0.3.154 (ab42f7ecb, 2025-07) and ``Proxying local port N to remote [HOST]:P`` before (since 2022)."""

# errors a retry cannot fix: report ``failed`` at once
_FATAL = (NotLoggedIn, AppNotFound, PaymentRequired)
_PORT_IN_USE = "address already in use"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def _accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connection to host:port succeeds (closed at once)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


@dataclass(frozen=True)
class TunnelInfo:
    """A snapshot for the tunnels pane."""

    app: str
    remote_port: int
    host: str | None
    local_port: int | None
    state: TunnelState
    target: str              # "[app.internal]:5432"
    uptime: float | None     # seconds since the current connection came up, None unless up
    reconnects: int          # successful reconnects so far
    pid: int | None
    error: str | None        # last error message (redacted by the runner)
    refs: int = 0            # holders (TunnelManager only)
    kind: str = "proxy"      # "proxy" (fly proxy to an app) | "mpg" (fly mpg proxy to a Managed Postgres cluster)


class Tunnel:
    """One ``fly proxy`` process, kept up by a supervisor. See the module docstring."""

    #: what :class:`TunnelInfo` calls it; subclasses (``flytui.db.mpg_tunnel.MpgTunnel``) change the argv
    kind: str = "proxy"

    def __init__(self, runner: "FlyctlRunner", app: str, remote_port: int = 5432, local_port: int = 0,
                 host: str | None = None, *, bind: str = "127.0.0.1", ready_timeout: float = 30.0,
                 max_attempts: int = 8, backoff_base: float = 1.0, backoff_cap: float = 30.0) -> None:
        self.runner = runner
        self.app = app
        self.remote_port = int(remote_port)
        self.host = host
        self.bind = bind
        self.ready_timeout = ready_timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._fixed_port = int(local_port) or None
        self.local_port: int | None = self._fixed_port
        self.state: TunnelState = "closed"
        self.error: FlyError | None = None
        self.reconnects = 0
        self._proc: FlyProcess | None = None
        self._drain: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._state_changed = asyncio.Event()
        self._up_since: float | None = None
        self._closing = False

    # ------------------------------------------------------------------ observing
    @property
    def key(self) -> TunnelKey:
        """(app, remote_port, host): what makes two tunnels the same."""
        return self.app, self.remote_port, self.host

    @property
    def target(self) -> str:
        """Remote end as flyctl prints it: ``[host]:port`` (host defaults to ``<app>.internal``)."""
        return f"[{self.host or self.app + '.internal'}]:{self.remote_port}"

    @property
    def pid(self) -> int | None:
        """pid of the current flyctl process (None when there is none)."""
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    @property
    def uptime(self) -> float | None:
        """Seconds the current connection has been up."""
        return time.monotonic() - self._up_since if self.state == "up" and self._up_since else None

    def add_listener(self, cb: Listener) -> Callable[[], None]:
        """Call ``cb(tunnel, state)`` on every state change; returns a function that removes it."""
        self._listeners.append(cb)
        return lambda: self._listeners.remove(cb) if cb in self._listeners else None

    def info(self, refs: int = 0) -> TunnelInfo:
        """A snapshot for the UI."""
        return TunnelInfo(self.app, self.remote_port, self.host, self.local_port, self.state, self.target,
                          self.uptime, self.reconnects, self.pid, self.error.message if self.error else None, refs,
                          self.kind)

    def local_url(self, database_url: str) -> str:
        """``database_url`` pointed at this tunnel's local end (see :func:`flytui.db.urls.tunnel_url`)."""
        from flytui.db.urls import tunnel_url

        if self.local_port is None:
            raise RuntimeError("tunnel is not open")
        return tunnel_url(database_url, self.local_port, host=self.bind)

    async def wait_state(self, *states: TunnelState, timeout: float = 30.0) -> TunnelState:
        """Wait until the tunnel is in one of ``states``; returns it (TimeoutError otherwise)."""
        async def _wait() -> TunnelState:
            while self.state not in states:
                self._state_changed.clear()
                await self._state_changed.wait()
            return self.state
        return await asyncio.wait_for(_wait(), timeout)

    def _set_state(self, state: TunnelState) -> None:
        if state == self.state:
            return
        self.state = state
        self._up_since = time.monotonic() if state == "up" else None
        self._state_changed.set()
        log.debug("tunnel %s %s -> %s (port %s)", self.app, self.target, state, self.local_port)
        for cb in list(self._listeners):
            try:
                cb(self, state)
            except Exception:  # a broken listener must not break the tunnel
                log.exception("tunnel listener failed")

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> "Tunnel":
        """Start the proxy and wait until it is up; start the supervisor. Raises the flyctl error (state
        ``failed``) if the first connection cannot be made."""
        if self.state in ("up", "connecting", "dropped"):
            return self
        self._closing = False
        self.error = None
        self._set_state("connecting")
        try:
            for attempt in range(3):
                try:
                    await self._connect()
                    break
                except FlyctlError as exc:  # our free port was taken in between: pick another one
                    if self._fixed_port is not None or _PORT_IN_USE not in exc.message or attempt == 2:
                        raise
                    self.error = exc
                    await self._stop_process()
        except BaseException as exc:
            self.error = exc if isinstance(exc, FlyError) else None
            await self._stop_process()
            self._set_state("failed" if not isinstance(exc, asyncio.CancelledError) else "closed")
            raise
        self.error = None
        self._set_state("up")
        self._supervisor = asyncio.ensure_future(self._supervise())
        return self

    async def close(self) -> None:
        """Stop supervising and terminate the proxy's process group. Idempotent."""
        self._closing = True
        sup, self._supervisor = self._supervisor, None
        if sup is not None and not sup.done() and sup is not asyncio.current_task():
            sup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sup
        await self._stop_process()
        self._set_state("closed")

    async def __aenter__(self) -> "Tunnel":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ internals
    def _argv(self, port: int) -> list[str]:
        argv = ["proxy", f"{port}:{self.remote_port}"]
        if self.host:
            argv.append(self.host)
        argv += ["-a", self.app, "--watch-stdin"]
        if self.bind != "127.0.0.1":
            argv += ["--bind-addr", self.bind]
        return argv

    async def _connect(self, *, may_move: bool = True) -> None:
        """One attempt: spawn flyctl, wait for the readiness line and an accepting port.

        ``may_move``: the first open may pick another free port when ours was taken in between; a
        reconnect (``may_move=False``) keeps the port that URLs already point at.
        """
        if self.local_port is None or (may_move and self._fixed_port is None and self.error is not None
                                       and _PORT_IN_USE in self.error.message):
            self.local_port = free_port(self.bind)
        proc = self.runner.spawn(*self._argv(self.local_port), keep_stdin_open=True, kind="long")
        self._proc = proc
        await proc.start()
        self._drain = asyncio.ensure_future(self._drain_output(proc))
        deadline = time.monotonic() + self.ready_timeout
        match = await proc.wait_for(READY_RE, timeout=self.ready_timeout)
        port = int(match.group("local"))
        if port != self.local_port:  # flyctl chose (local port 0) or moved it: trust what it prints
            self.local_port = port
        while not await _accepts(self.bind, port, timeout=max(0.1, min(1.0, deadline - time.monotonic()))):
            if proc.returncode is not None:
                raise FlyctlError(f"`fly proxy` exited with code {proc.returncode} right after it was ready",
                                  argv=proc.argv, returncode=proc.returncode, stderr=proc.tail())
            if time.monotonic() > deadline:
                raise FlyctlTimeout(f"`fly proxy` printed its ready line but 127.0.0.1:{port} does not accept "
                                    f"connections after {self.ready_timeout:g} s", argv=proc.argv,
                                    stderr=proc.tail())
            await asyncio.sleep(0.05)

    @staticmethod
    async def _drain_output(proc: "FlyProcess") -> None:
        """Consume the proxy's output so its pipes never fill (lines stay in ``proc.tail()``)."""
        with contextlib.suppress(Exception):
            async for _ in proc.batches(interval=0.2):
                pass

    async def _stop_process(self) -> None:
        """Terminate the current proxy group (SIGTERM, grace, SIGKILL) and reap it."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.close_stdin()
            await proc.close()
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await drain

    def _backoff(self, attempt: int) -> float:
        """Delay before reconnect ``attempt`` (1-based): base * 2**(attempt-1), capped."""
        return min(self.backoff_cap, self.backoff_base * (2.0 ** (attempt - 1)))

    async def _supervise(self) -> None:
        """Wait for the proxy to exit; then report ``dropped`` and reconnect with backoff (bounded)."""
        while not self._closing:
            proc = self._proc
            if proc is None:
                return
            rc = await proc.wait()
            if self._closing:
                return
            self.error = FlyctlError(f"`fly proxy` exited unexpectedly (code {rc})", argv=proc.argv,
                                     returncode=rc, stderr=proc.tail())
            log.info("tunnel %s %s dropped: %s", self.app, self.target, self.error.message)
            self._set_state("dropped")
            await self._stop_process()
            if not await self._reconnect():
                return

    async def _reconnect(self) -> bool:
        """Reconnect attempts with backoff; True when up again, False when given up (state ``failed``)."""
        for attempt in range(1, self.max_attempts + 1):
            await asyncio.sleep(self._backoff(attempt))
            if self._closing:
                return False
            try:
                await self._connect(may_move=False)
            except FlyError as exc:
                self.error = exc
                await self._stop_process()
                if isinstance(exc, _FATAL):
                    break
                continue
            self.reconnects += 1
            self.error = None
            self._set_state("up")
            return True
        self._set_state("failed")
        return False


class TunnelManager:
    """One tunnel per (app, remote_port, host) for the whole app, reference-counted."""

    def __init__(self, runner: "FlyctlRunner", *, idle_timeout: float = 30.0,
                 tunnel_factory: Callable[..., Tunnel] = Tunnel, **tunnel_options: Any) -> None:
        self.runner = runner
        self.idle_timeout = idle_timeout
        self._factory = tunnel_factory
        self._options = tunnel_options
        self._tunnels: dict[TunnelKey, Tunnel] = {}
        self._refs: dict[TunnelKey, int] = {}
        self._idle: dict[TunnelKey, asyncio.TimerHandle] = {}
        self._locks: dict[TunnelKey, asyncio.Lock] = {}
        self._closers: set[asyncio.Task[None]] = set()
        self._listeners: list[Listener] = []

    def add_listener(self, cb: Listener) -> None:
        """Call ``cb(tunnel, state)`` for state changes of every tunnel (present and future)."""
        self._listeners.append(cb)
        for tunnel in self._tunnels.values():
            tunnel.add_listener(cb)

    async def acquire(self, app: str, remote_port: int = 5432, host: str | None = None) -> Tunnel:
        """The shared tunnel for (app, remote_port, host), opened if needed (up when this returns).
        Every successful acquire needs one :meth:`release`."""
        key: TunnelKey = (app, int(remote_port), host)
        async with self._locks.setdefault(key, asyncio.Lock()):
            self._cancel_idle(key)
            tunnel = self._tunnels.get(key)
            if tunnel is None or tunnel.state in ("failed", "closed"):
                if tunnel is not None:
                    await tunnel.close()
                tunnel = self._make(app, remote_port, host)
                for cb in self._listeners:
                    tunnel.add_listener(cb)
                self._tunnels[key] = tunnel
                self._refs[key] = 0
                try:
                    await tunnel.open()
                except BaseException:
                    self._tunnels.pop(key, None)
                    self._refs.pop(key, None)
                    raise
            self._refs[key] += 1
            return tunnel

    def _make(self, app: str, remote_port: int, host: str | None) -> Tunnel:
        """A new tunnel for the key: ``fly mpg proxy`` when ``host`` is the MPG marker, else the factory's."""
        from flytui.db.mpg_tunnel import MPG_HOST, MpgTunnel

        if host == MPG_HOST:
            return MpgTunnel(self.runner, app, **self._options)
        return self._factory(self.runner, app, remote_port, host=host, **self._options)

    async def acquire_mpg(self, cluster_id: str) -> Tunnel:
        """The shared ``fly mpg proxy CLUSTER`` tunnel (key ``(cluster_id, 5432, "mpg")``); release it likewise."""
        from flytui.db.mpg_tunnel import MPG_HOST

        return await self.acquire(cluster_id, 5432, MPG_HOST)

    def release(self, tunnel: Tunnel) -> None:
        """Drop one reference; the last one schedules the close after ``idle_timeout`` seconds."""
        key = tunnel.key
        if self._tunnels.get(key) is not tunnel or self._refs.get(key, 0) <= 0:
            return
        self._refs[key] -= 1
        if self._refs[key] == 0:
            loop = asyncio.get_running_loop()
            self._idle[key] = loop.call_later(self.idle_timeout, self._close_idle, key)

    @contextlib.asynccontextmanager
    async def lease(self, app: str, remote_port: int = 5432, host: str | None = None) -> AsyncIterator[Tunnel]:
        """``async with manager.lease(app) as tunnel:`` — acquire, then release on exit."""
        tunnel = await self.acquire(app, remote_port, host)
        try:
            yield tunnel
        finally:
            self.release(tunnel)

    def list(self) -> list[TunnelInfo]:
        """Snapshots of every tunnel, for the tunnels pane."""
        return [t.info(self._refs.get(k, 0)) for k, t in self._tunnels.items()]

    async def close_all(self) -> None:
        """Close every tunnel now (app exit)."""
        for handle in self._idle.values():
            handle.cancel()
        self._idle.clear()
        tunnels = list(self._tunnels.values())
        self._tunnels.clear()
        self._refs.clear()
        await asyncio.gather(*(t.close() for t in tunnels), *self._closers, return_exceptions=True)

    def _cancel_idle(self, key: TunnelKey) -> None:
        handle = self._idle.pop(key, None)
        if handle is not None:
            handle.cancel()

    def _close_idle(self, key: TunnelKey) -> None:
        """Timer callback: close the tunnel if still unused."""
        self._idle.pop(key, None)
        if self._refs.get(key, 0) > 0:
            return
        tunnel = self._tunnels.pop(key, None)
        self._refs.pop(key, None)
        if tunnel is not None:
            task = asyncio.ensure_future(tunnel.close())
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)
