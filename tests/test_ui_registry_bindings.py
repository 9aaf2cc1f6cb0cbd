"""Every key binding of the console comes from the one command registry (flytui/ui/commands.py).

Help, the command palette, ``:`` mode, the user keymap and the README's keys table are all generated from the
registry, so a ``Binding`` built anywhere else is a key that none of them knows about.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import flytui
import flytui.ui
from flytui.ui import commands

ROOT = Path(flytui.__file__).parent
REGISTRY = ROOT / "ui" / "commands.py"
README = ROOT.parent / "README.md"


def _binding_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "Binding":
                lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "textual.binding":
            if any(alias.name == "Binding" for alias in node.names):
                lines.append(node.lineno)
    return lines


def test_no_binding_is_built_outside_the_registry() -> None:
    offenders = [f"{path.relative_to(ROOT.parent)}:{line}" for path in sorted(ROOT.rglob("*.py"))
                 if path != REGISTRY for line in _binding_calls(path)]
    assert offenders == [], "build key bindings with flytui.ui.commands (bindings / local_bindings): " + ", ".join(
        offenders)


def _ui_classes() -> list[type]:
    out = []
    for info in pkgutil.walk_packages(flytui.ui.__path__, "flytui.ui."):
        module = importlib.import_module(info.name)
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and "BINDINGS" in vars(obj):
                out.append(obj)
    return out


def test_every_bound_key_is_a_registry_entry_with_its_key() -> None:
    by_binding_id = {f"{c.group}.{c.id}": c for c in commands.ALL}
    classes = _ui_classes()
    # the rooms that bind keys: the app, the main screen, panes, full screens, dialogs, the command line
    names = {cls.__name__ for cls in classes}
    assert {"FlytuiApp", "MainScreen", "MachinesPane", "LogsScreen", "ConfirmScreen", "HelpScreen",
            "SetSecretScreen", "FlyTomlScreen", "DoctorScreen", "CommandInput"} <= names, names
    seen: set[str] = set()
    for cls in classes:
        for binding in cls.BINDINGS:
            cmd = by_binding_id.get(getattr(binding, "id", None) or "")
            assert cmd is not None, f"{cls.__qualname__} binds {binding!r} outside the registry"
            assert binding.key == cmd.key, (cls.__qualname__, binding.key, cmd.id)
            seen.add(cmd.id)
    # and nothing in the registry is a key that no one binds
    assert {c.id for c in commands.ALL if c.key} - seen == set()


def test_registry_ids_are_unique_and_local_keys_are_not_run_by_name() -> None:
    ids = [c.id for c in commands.ALL]
    assert len(ids) == len(set(ids))
    for cmd in commands.LOCAL_KEYS:
        assert commands.complete(cmd.id) != cmd.id  # the palette and `:` mode run COMMANDS only
        assert cmd.group in commands.GROUP_TITLES, cmd.group


def test_readme_keys_table_lists_every_key() -> None:
    text = README.read_text(encoding="utf-8")
    block = text[text.index("<!-- keys:begin"): text.index("<!-- keys:end -->")]
    for cmd in commands.ALL:
        line = next((ln for ln in block.splitlines() if f"| {cmd.help}" in ln.replace("\\|", "|")), None)
        assert line is not None, f"README keys table misses {cmd.id}"
        assert f"`{commands.key_label(cmd.key)}`" in line, (cmd.id, line)
