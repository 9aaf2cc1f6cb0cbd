"""A tiny stand-in for ``flyctl proxy LOCAL:REMOTE [HOST] -a APP [--watch-stdin]`` (tests only).

It listens on 127.0.0.1:LOCAL (0 = pick), prints flyctl's readiness line
``Proxying localhost:<port> to remote [<host>]:<remote>`` on stdout and forwards every TCP connection to
``$FAKE_PROXY_TARGET`` (``host:port`` or a Unix socket path). Controls (environment):

- ``FAKE_PROXY_FAIL="text"``: print ``Error: text`` on stderr and exit 1 (e.g. an unknown app);
- ``FAKE_PROXY_FAIL_FILE=path``: same, but only while that file exists (its content is the text);
- ``FAKE_PROXY_NO_LISTEN=1``: print the readiness line but never listen (readiness must not trust the line);
- ``FAKE_PROXY_PIDS=path``: append this process's pid to that file;
- ``FAKE_PROXY_BUSY_ONCE=path``: if that file exists, remove it and fail as if the port were taken (flyctl's
  bind error below), as a restarted proxy does while the killed one's socket is not yet released.

Bind failures print flyctl's ``Error: listen tcp 127.0.0.1:P: bind: address already in use`` and exit 1.
With ``--watch-stdin`` it exits when stdin reaches EOF.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading


def _fail(text: str) -> int:
    print(f"Error: {text}", file=sys.stderr, flush=True)
    return 1


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(local: int, remote: int, label: str, watch_stdin: bool) -> int:
    target = os.environ.get("FAKE_PROXY_TARGET", "")

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            if target.startswith("/"):
                ur, uw = await asyncio.open_unix_connection(target)
            else:
                host, _, port = target.rpartition(":")
                ur, uw = await asyncio.open_connection(host, int(port))
        except (OSError, ValueError):
            cw.close()
            return
        await asyncio.gather(_pipe(cr, uw), _pipe(ur, cw))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's listeners do
    busy = os.environ.get("FAKE_PROXY_BUSY_ONCE")
    if busy and os.path.exists(busy):
        os.unlink(busy)
        sock.close()
        return _fail(f"listen tcp 127.0.0.1:{local}: bind: address already in use")
    try:
        sock.bind(("127.0.0.1", local))
    except OSError as exc:
        sock.close()
        return _fail(f"listen tcp 127.0.0.1:{local}: bind: {(exc.strerror or str(exc)).lower()}")
    port = sock.getsockname()[1]
    server = None
    if not os.environ.get("FAKE_PROXY_NO_LISTEN"):
        sock.listen(64)
        server = await asyncio.start_server(handle, sock=sock)
    print(f"Proxying localhost:{port} to remote [{label}]:{remote}", flush=True)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    if watch_stdin:
        def watch() -> None:
            with contextlib.suppress(Exception):
                while os.read(0, 65536):
                    pass
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(0))

        threading.Thread(target=watch, daemon=True).start()
    try:
        return await done
    finally:
        if server is not None:
            server.close()
        sock.close()


def main(argv: list[str]) -> int:
    if pids := os.environ.get("FAKE_PROXY_PIDS"):
        with open(pids, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    if not argv or argv[0] != "proxy":
        return _fail(f"unknown command {argv[:1]}")
    args = argv[1:]
    app = args[args.index("-a") + 1] if "-a" in args else ""
    positional = [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] != "-a")]
    if text := os.environ.get("FAKE_PROXY_FAIL"):
        return _fail(text)
    fail_file = os.environ.get("FAKE_PROXY_FAIL_FILE")
    if fail_file and os.path.exists(fail_file):
        with open(fail_file) as fh:
            return _fail(fh.read().strip())
    local_s, _, remote_s = positional[0].partition(":")
    label = positional[1] if len(positional) > 1 else f"{app}.internal"
    try:
        return asyncio.run(_serve(int(local_s), int(remote_s or local_s), label, "--watch-stdin" in args))
    except KeyboardInterrupt:
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
