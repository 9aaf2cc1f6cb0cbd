"""The UI's rooms hold what their names say, and the UI never starts a process itself.

* ``flytui/ui/panes``: views of the main screen (``Pane``); ``flytui/ui/screens``: full screens (``Screen``);
  ``flytui/ui/modals``: dialogs (``ModalScreen``); ``flytui/ui/widgets``: reusable widgets.
* One stylesheet (flytui/ui/flytui.tcss); ``DEFAULT_CSS`` only in reusable widgets; no dialog borrows another
  dialog's ids.
* Every child process goes through flytui/fly/runner.py: the UI imports no process module (import-linter checks
  ``subprocess``/``pty``/``multiprocessing``; this file checks what a contract cannot express, such as
  ``asyncio.create_subprocess_exec`` or ``os.system``).
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

from textual.screen import ModalScreen, Screen
from textual.widget import Widget

import flytui
import flytui.ui

UI = Path(flytui.__file__).parent / "ui"
#: the one exception: opening a URL in the user's browser (stdlib webbrowser) is the user's program, not a child
#: flytui manages; it never runs flyctl
SPAWNING_CALLS = {"create_subprocess_exec", "create_subprocess_shell", "system", "popen", "fork", "forkpty",
                  "posix_spawn", "posix_spawnp", "spawnl", "spawnlp", "spawnv", "spawnvp", "execv", "execvp",
                  "execve", "execl", "execlp", "Popen", "run_in_executor_process"}
SPAWNING_MODULES = {"subprocess", "pty", "multiprocessing", "asyncio.subprocess"}


def _py_files() -> list[Path]:
    return sorted(UI.rglob("*.py"))


def test_the_ui_never_spawns_a_process() -> None:
    offenders = []
    for path in _py_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in SPAWNING_CALLS:
                offenders.append(f"{path.relative_to(UI)}:{node.lineno} .{node.attr}")
            elif isinstance(node, ast.Import):
                offenders += [f"{path.relative_to(UI)}:{node.lineno} import {a.name}" for a in node.names
                              if a.name in SPAWNING_MODULES]
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module in SPAWNING_MODULES or (node.module == "asyncio" and any(
                        a.name in ("subprocess", "create_subprocess_exec", "create_subprocess_shell")
                        for a in node.names)):
                    offenders.append(f"{path.relative_to(UI)}:{node.lineno} from {node.module}")
    assert offenders == [], "run children through flytui.fly.runner: " + ", ".join(offenders)


def _classes(package: str) -> list[type]:
    pkg = importlib.import_module(package)
    out = []
    for info in pkgutil.iter_modules(pkg.__path__, package + "."):
        module = importlib.import_module(info.name)
        out += [obj for _n, obj in inspect.getmembers(module, inspect.isclass) if obj.__module__ == module.__name__]
    return out


def test_each_room_holds_its_kind() -> None:
    from flytui.ui.panes.base import Pane

    wrong = []
    for cls in _classes("flytui.ui.panes"):
        if issubclass(cls, Screen) or (issubclass(cls, Widget) and not issubclass(cls, Pane)):
            wrong.append(f"panes: {cls.__qualname__}")
    for cls in _classes("flytui.ui.screens"):
        if issubclass(cls, ModalScreen) or (issubclass(cls, Widget) and not issubclass(cls, Screen)):
            wrong.append(f"screens: {cls.__qualname__}")
    for cls in _classes("flytui.ui.modals"):
        if issubclass(cls, Widget) and not issubclass(cls, ModalScreen):
            wrong.append(f"modals: {cls.__qualname__}")
    for cls in _classes("flytui.ui.widgets"):
        if issubclass(cls, Screen):
            wrong.append(f"widgets: {cls.__qualname__}")
    assert wrong == []
    assert not (UI / "screens" / "pane.py").exists()


def test_one_stylesheet_and_default_css_only_in_widgets() -> None:
    assert sorted(p.relative_to(UI).as_posix() for p in UI.rglob("*.tcss")) == ["flytui.tcss"]
    offenders = []
    for path in _py_files():
        rel = path.relative_to(UI).as_posix()
        source = path.read_text(encoding="utf-8")
        if "CSS_PATH" in source and rel != "app.py":
            offenders.append(f"{rel}: CSS_PATH")
        if "DEFAULT_CSS" in source and not rel.startswith("widgets/"):
            offenders.append(f"{rel}: DEFAULT_CSS")
        if 'id="confirm-' in source and rel != "modals/confirm.py":
            offenders.append(f"{rel}: borrows ConfirmScreen's #confirm-* ids")
    assert offenders == []


def test_ui_files_stay_small() -> None:
    big = {p.relative_to(UI).as_posix(): n for p in _py_files()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert big == {}


def test_every_ui_module_imports() -> None:
    for info in pkgutil.walk_packages(flytui.ui.__path__, "flytui.ui."):
        importlib.import_module(info.name)
