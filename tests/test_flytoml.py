"""fly.toml round trips keep every byte except the edited value; validation; Dockerfile port detection."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flytui.fly.flytoml import FlyToml, read_dockerfile, validate_text, write_atomic

FIX = Path(__file__).parent / "fixtures" / "flytoml"


@pytest.mark.parametrize("name", ["preflight-fly.toml", "launch-fly.toml"])
def test_round_trip_is_byte_identical(name: str) -> None:
    text = (FIX / name).read_text()
    assert FlyToml.parse(text).dumps() == text


def test_edit_changes_only_the_value_and_keeps_comments(tmp_path: Path) -> None:
    src = tmp_path / "fly.toml"
    original = (FIX / "launch-fly.toml").read_text()
    src.write_text(original)
    ft = FlyToml.load(tmp_path)
    assert ft.app == "fly-demo-test" and ft.internal_port == 8000 and ft.primary_region == "hkg"
    edited = ft.with_value("http_service.internal_port", 8080)
    edited.save()
    after = src.read_text()
    assert after == original.replace("internal_port = 8000  # uvicorn's default", "internal_port = 8080  # uvicorn's default")
    diff = ft.diff(edited)
    assert "-  internal_port = 8000" in diff and "+  internal_port = 8080" in diff
    assert sum(1 for ln in diff.splitlines() if ln.startswith(("+", "-")) and not ln.startswith(("+++", "---"))) == 2


def test_adding_a_table_keeps_the_rest(tmp_path: Path) -> None:
    original = (FIX / "launch-fly.toml").read_text()
    ft = FlyToml.parse(original, tmp_path / "fly.toml")
    new = ft.with_value("deploy.release_command", "alembic upgrade head")
    text = new.dumps()
    assert text.startswith(original.rstrip("\n"))  # everything before is untouched
    assert FlyToml.parse(text).release_command == "alembic upgrade head"


def test_save_refuses_invalid_and_leaves_file_alone(tmp_path: Path) -> None:
    src = tmp_path / "fly.toml"
    original = (FIX / "launch-fly.toml").read_text()
    src.write_text(original)
    ft = FlyToml.load(src)
    bad = ft.with_value("http_service.internal_port", "eighty")
    with pytest.raises(ValueError, match="internal_port"):
        bad.save()
    assert src.read_text() == original


def test_validation_rules() -> None:
    assert validate_text("app = 'ok-app'\nprimary_region = 'nrt'\n") == []
    msgs = {i.path for i in validate_text("app = 'Bad_Name'\nprimary_region = 'tokyo'\n")}
    assert {"app", "primary_region"} <= msgs
    assert validate_text("app = [")[0].message.startswith("TOML syntax error")
    issues = validate_text("app='a-b'\nprimary_region='iad'\n[http_service]\nauto_stop_machines='sometimes'\n")
    assert {i.path for i in issues} == {"http_service.internal_port", "http_service.auto_stop_machines"}


def test_write_atomic_keeps_mode(tmp_path: Path) -> None:
    p = tmp_path / "fly.toml"
    p.write_text("app = 'x'\n")
    os.chmod(p, 0o640)
    write_atomic(p, "app = 'y'\n")
    assert p.read_text() == "app = 'y'\n"
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert [x.name for x in tmp_path.iterdir()] == ["fly.toml"]


@pytest.mark.parametrize(
    "dockerfile,served,exposed",
    [
        ('FROM python:3.12-slim\nEXPOSE 8080\nCMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080"]\n', 8080, [8080]),
        ("FROM python\nCMD uvicorn app.main:app --host 0.0.0.0 --port=8000\n", 8000, []),
        ('FROM python\nEXPOSE 5000/tcp\nCMD ["gunicorn", "-b", "0.0.0.0:5000", "app:app"]\n', 5000, [5000]),
        ("FROM python\nENV PORT=9000\nCMD uvicorn app:app --port $PORT\n", 9000, []),
        ("FROM python\nCMD python app.py\n", None, []),
    ],
)
def test_dockerfile_ports(tmp_path: Path, dockerfile: str, served: int | None, exposed: list[int]) -> None:
    p = tmp_path / "Dockerfile"
    p.write_text(dockerfile)
    info = read_dockerfile(p)
    assert info.served_port == served
    assert info.exposed == exposed
