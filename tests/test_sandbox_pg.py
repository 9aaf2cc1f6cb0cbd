"""Fly Postgres in the sandbox: attach on the real backing server, a real `fly proxy`, the private network (Flycast forwarder)."""
from __future__ import annotations

import re
import secrets
import socket
import subprocess
import sys


from flytui.sandbox.state import pid_alive
from tests.helpers.procinfo import describe


def start_proxy(sandbox, *args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sandbox.flyctl, "proxy", *args, "--watch-stdin"], env=sandbox.env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.fullmatch(r"Proxying localhost:(\d+) to remote \[(.+)\]:(\d+)\n", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(m.group(1))


def test_attach_proxy_and_select(sandbox_pg):
    import psycopg

    sb = sandbox_pg
    web = f"web{secrets.token_hex(3)}"
    sb.create_postgres("app-db")
    sb.create_app(web)
    r = sb.run("postgres", "attach", "app-db", "-a", web)
    assert r.returncode == 0, r.stderr
    m = re.search(rf"^  DATABASE_URL=(postgres://{web}:([A-Za-z0-9]{{15}})@app-db\.flycast:5432/{web}\?sslmode=disable)$",
                  r.stdout, re.M)
    assert m, r.stdout
    assert f"Postgres cluster app-db is now attached to {web}\nThe following secret was added to {web}:\n" in r.stdout
    assert sb.read()["apps"][web]["secrets"]["DATABASE_URL"]["value"] == m.group(1)

    proc, port = start_proxy(sb, "0:5432", "-a", "app-db")
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user=web, password=m.group(2), dbname=web,
                             connect_timeout=10) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            assert conn.execute("select current_user").fetchone() == (web,)
        assert proc.pid in sb.read()["proxies"]
    finally:
        proc.stdin.close()  # --watch-stdin: exits when stdin closes
        assert proc.wait(timeout=10) == 0
    assert sb.read()["proxies"] == []


def test_proxy_port_in_use_and_sigint(sandbox_pg):
    sb = sandbox_pg
    sb.create_postgres("app-db")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        taken = s.getsockname()[1]
        r = sb.run("proxy", f"{taken}:5432", "-a", "app-db")
        assert r.returncode == 1
        assert r.stderr == f"Error: listen tcp 127.0.0.1:{taken}: bind: address already in use\n"
    proc, _ = start_proxy(sb, "0:5432", "-a", "app-db")
    import signal

    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=10) == 127
    except subprocess.TimeoutExpired:
        raise AssertionError(f"fly proxy ignored SIGINT for 10 s: {describe(proc.pid)}") from None
    finally:
        if proc.poll() is None:  # never leave the proxy behind
            proc.kill()
            proc.wait()


def test_teardown_kills_proxies(sandbox_pg):
    sb = sandbox_pg
    sb.create_postgres("app-db")
    proc, _ = start_proxy(sb, "0:5432", "-a", "app-db")
    sb.teardown()
    assert proc.wait(timeout=10) != 0 or not pid_alive(proc.pid)


def test_ssh_console_database_url_connects_via_private_network(sandbox_pg, tmp_path):
    sb = sandbox_pg
    web = f"web-{secrets.token_hex(3)}"
    sb.create_postgres("app-db")
    sb.create_app(web)
    sb.add_machine(web, state="started")  # with machines, the attached secret is deployed (not staged)
    assert sb.run("pg", "attach", "app-db", "-a", web).returncode == 0
    script = ("import os, psycopg; "
              "c = psycopg.connect(os.environ['DATABASE_URL']); "
              "print(c.execute('select current_database()').fetchone()[0])")
    r = sb.run("ssh", "console", "-a", web, "-C", f"{sys.executable} -c \"{script}\"")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == web.replace("-", "_")
