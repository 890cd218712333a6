"""The shape of the CLI itself: every command documented, and help that starts fast."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.main import COMMANDS, cli

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("sqlalchemy", "sqlmodel")


def walk(cmd: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
    out = [(path, cmd)]
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path)} lists {name!r} but cannot load it"
            out += walk(sub, (*path, name))
    return out


def all_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    return walk(cli, ("duban",))


def test_every_entry_of_the_command_table_loads() -> None:
    ctx = click.Context(cli)
    for name, (module, attr) in COMMANDS.items():
        cmd = cli.get_command(ctx, name)
        assert isinstance(cmd, click.Command), f"{module}.{attr} is not a click command"
    assert sorted(cli.list_commands(ctx)) == sorted(COMMANDS)


def test_every_command_and_group_has_help() -> None:
    tree = all_commands()
    assert len(tree) > len(COMMANDS)  # the groups' sub-commands were walked too
    missing = [" ".join(path) for path, cmd in tree if not (cmd.help or "").strip()]
    assert missing == []


def test_every_option_of_the_cli_modules_has_help() -> None:
    missing = []
    for path, cmd in all_commands():
        for param in cmd.params:
            if isinstance(param, click.Option) and not (param.help or "").strip() and "--help" not in param.opts:
                missing.append(f"{' '.join(path)} {param.opts[0]}")
    assert missing == []


@pytest.mark.parametrize("path", [p for p, _ in all_commands()], ids=lambda p: " ".join(p))
def test_help_of_each_command_exits_0(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def _imported(importtime_stderr: str) -> set[str]:
    # Lines look like "import time:       123 |        456 |   sqlalchemy.orm".
    names = set()
    for line in importtime_stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if m:
            names.add(m.group(1))
    return names


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["task", "--help"], ["task", "move", "--help"]],
                         ids=" ".join)
def test_help_and_version_do_not_import_the_database_layer(argv: list[str]) -> None:
    proc = _run("-X", "importtime", "-m", "cli", *argv)
    assert proc.returncode == 0, proc.stderr
    imported = _imported(proc.stderr)
    assert "click" in imported  # the parse worked, so an empty set cannot pass by accident
    heavy = sorted(name for name in imported if name.split(".")[0] in HEAVY)
    assert heavy == []


def test_help_leaves_engine_and_rich_unloaded() -> None:
    probe = (
        "import sys\n"
        "from cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='duban')\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in ('sqlalchemy', 'sqlmodel', 'rich', 'transitions', 'engine.api', 'storage.db',\n"
        "                      'workflows.schema', 'platformdirs', 'tomllib', 'zoneinfo', 'engine.core.errors')\n"
        "          if m in sys.modules]\n"
        "print('LOADED=' + ','.join(loaded))\n"
    )
    proc = _run("-c", probe)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED=\n" in proc.stdout


@pytest.mark.parametrize("argv", [["task", "list", "--limit", "20"], ["summary", "--json"]], ids=" ".join)
def test_reading_commands_answer_without_the_orm_or_a_state_machine(tmp_path, argv: list[str]) -> None:
    """Listing and summing are what people run most: they load SQLAlchemy Core, nothing heavier."""
    db = tmp_path / "ledger.db"
    assert _run("-m", "cli", "--db", str(db), "demo").returncode == 0
    proc = _run("-X", "importtime", "-m", "cli", "--db", str(db), *argv)
    assert proc.returncode == 0, proc.stderr
    assert "14" in proc.stdout  # answered from the demo ledger, not refused early
    imported = _imported(proc.stderr)
    assert "sqlalchemy.sql" in imported
    heavy = sorted(name for name in imported
                   if name.split(".")[0] in {"sqlmodel", "pydantic", "transitions", "alembic"}
                   or name in {"sqlalchemy.orm", "storage.models", "storage.db", "engine.api"})
    assert heavy == []


_WRITE_PROBE = (
    "import sys\n"
    "sys.argv = ['duban'] + sys.argv[1:]\n"
    "from cli.main import main\n"
    "code = 0\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    code = exc.code or 0\n"
    "loaded = [m for m in ('sqlmodel', 'pydantic', 'storage.models', 'sqlalchemy.orm') if m in sys.modules]\n"
    "print('EXIT=%s LOADED=%s' % (code, ','.join(loaded)))\n"
)


@pytest.fixture
def write_ledger(tmp_path: Path) -> Path:
    """A ledger with one task of unit 办公室 and its unit's user, made through the engine."""
    from engine.api import Duban
    from engine.core.config import Settings

    db = tmp_path / "ledger.db"
    app = Duban(str(db), settings=Settings())
    app.init("root")
    app.add_user("root", "bgs", "unit", unit="办公室")
    app.add_campaign("root", "C", inspector="巡察组", target="机关", feedback_date=app.today())
    app.add_problem("root", "P1", "问题")
    app.add_task("root", "整改事项", problem="P1", leader="主任", unit="办公室", due="30d")
    return db


@pytest.mark.parametrize("argv", [
    ["--as", "root", "task", "note", "1", "进展"],
    ["--as", "root", "task", "flag", "1"],
    ["--as", "bgs", "task", "ack", "1"],
    ["--as", "root", "task", "move", "1", "start"],
], ids=lambda a: " ".join(a[2:4]))
def test_single_writes_run_without_the_orm(write_ledger: Path, argv: list[str]) -> None:
    """A single write (note, flag, ack, move) is one task row and one trail record: it runs on
    SQLAlchemy Core and loads neither SQLModel, pydantic, the models nor the ORM (they cost more
    than the write itself)."""
    proc = _run("-c", _WRITE_PROBE, "--db", str(write_ledger), *argv)
    assert proc.returncode == 0, proc.stderr
    assert "EXIT=0 LOADED=\n" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("argv", [["--as", "root", "audit", "verify"], ["--as", "root", "user", "list"],
                                  ["--as", "root", "campaign", "list"], ["--as", "root", "export", "ics"],
                                  ["--as", "root", "export", "csv"], ["--as", "root", "reminders", "list"],
                                  ["--as", "root", "export", "json"], ["--as", "root", "export", "binder"]],
                         ids=lambda a: " ".join(a[2:4]))
def test_verify_lists_and_exports_run_without_the_orm(write_ledger: Path, tmp_path: Path, argv: list[str]) -> None:
    out = ["-o", str(tmp_path / f"out.{argv[-1]}")] if argv[2] == "export" else []
    proc = _run("-c", _WRITE_PROBE, "--db", str(write_ledger), *argv, *out)
    assert proc.returncode == 0, proc.stderr
    assert "EXIT=0 LOADED=\n" in proc.stdout, proc.stdout + proc.stderr


def test_version() -> None:
    from engine import __version__

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_short_help_table_matches_each_commands_own_help():
    """`duban --help` lists commands from SHORT_HELP without importing them; it must not drift."""
    import importlib

    from cli.main import COMMANDS, SHORT_HELP

    for name, (module, attr) in COMMANDS.items():
        command = getattr(importlib.import_module(module), attr)
        assert SHORT_HELP.get(name) == command.get_short_help_str(limit=200), name
