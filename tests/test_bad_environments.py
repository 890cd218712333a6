"""Bad environments end in a message naming the thing, exit 1 or 2, no traceback, nothing changed.

Each case runs the real ``duban`` program in a process of its own (``python -m cli``) against a
copy of the demo ledger: a bad clock, config, database path, file kind, permission, URL, schema
stamp or acting user. The ledger is compared row by row before and after.

Permissions: the suite runs as root, which bypasses file modes. The permission cases therefore run
duban with the capabilities that let root ignore modes dropped from its bounding set (``setpriv``),
so the kernel really refuses the write; without root they run as they are.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NOW = "2026-03-01"
ROOT = Path(__file__).resolve().parent.parent
DROP_ROOT_BYPASS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner",
                    "--inh-caps=-dac_override,-dac_read_search,-fowner"]
PG_PASSWORD = "s3cr3t-pw"


def _base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env.update(DUBAN_NOW=NOW, XDG_CONFIG_HOME=str(tmp / "xdg-config"), XDG_DATA_HOME=str(tmp / "xdg-data"),
               PYTHONPATH=str(ROOT), LOGNAME="admin", USER="admin", COLUMNS="200")
    return env


def duban(args: list[str], env: dict[str, str], *, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), sys.executable, "-m", "cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("demo")
    db = tmp / "demo.db"
    done = duban(["--db", str(db), "demo"], _base_env(tmp))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:  # one self-contained file: no -wal beside it when copied
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def rows_of(path: Path) -> str:
    """Every row of the ledger (or the bytes of a file that is no ledger), as one fingerprint."""
    if not path.is_file():
        return "missing" if not path.exists() else "not a file"
    with tempfile.TemporaryDirectory() as aside:
        # read a copy: opening the ledger itself would create SQLite's -wal and -shm files beside
        # it, and a read-only folder that already has them no longer stops duban
        copy = Path(aside) / path.name
        shutil.copy(path, copy)
        for suffix in ("-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                shutil.copy(f"{path}{suffix}", f"{copy}{suffix}")
        try:
            conn = sqlite3.connect(copy)
            try:
                return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Case:
    """One bad environment: ``setup(tmp, ledger)`` returns the arguments and changes the env it gets."""

    name: str
    setup: Callable[[Path, Path, dict[str, str]], list[str]]
    code: int
    names: tuple[str, ...]
    watched: Callable[[Path, Path], Path] = field(default=lambda tmp, ledger: ledger)
    needs_permissions: bool = False
    never_printed: tuple[str, ...] = ()


def _on_ledger(*args: str) -> Callable[[Path, Path, dict[str, str]], list[str]]:
    return lambda tmp, ledger, env: ["--db", str(ledger), *args]


def _with_env(name: str, value: str, *args: str) -> Callable[[Path, Path, dict[str, str]], list[str]]:
    def setup(tmp: Path, ledger: Path, env: dict[str, str]) -> list[str]:
        env[name] = value
        return ["--db", str(ledger), *args]
    return setup


def _config(text: str | None, *args: str) -> Callable[[Path, Path, dict[str, str]], list[str]]:
    def setup(tmp: Path, ledger: Path, env: dict[str, str]) -> list[str]:
        if text is None:
            env["DUBAN_CONFIG"] = str(tmp)  # a directory
        else:
            path = tmp / "config.toml"
            path.write_bytes(text.encode("utf-8") if not text.startswith("\\x") else bytes.fromhex(text[2:]))
            env["DUBAN_CONFIG"] = str(path)
        return ["--db", str(ledger), *args]
    return setup


def _db_file(content: Callable[[Path, Path], None], *args: str) -> Callable[[Path, Path, dict[str, str]], list[str]]:
    def setup(tmp: Path, ledger: Path, env: dict[str, str]) -> list[str]:
        target = tmp / "other.db"
        content(target, ledger)
        return ["--db", str(target), *args]
    return setup


def _text_file(target: Path, ledger: Path) -> None:
    target.write_text("采购程序不规范, 办公室, 2025-10-31\n", encoding="utf-8")


def _truncated(target: Path, ledger: Path) -> None:
    target.write_bytes(ledger.read_bytes()[:6000])


def _other_db(tmp: Path, ledger: Path) -> Path:
    return tmp / "other.db"


def _read_only_file(*args: str) -> Callable[[Path, Path, dict[str, str]], list[str]]:
    def setup(tmp: Path, ledger: Path, env: dict[str, str]) -> list[str]:
        ledger.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        return ["--db", str(ledger), *args]
    return setup


def _read_only_folder(*args: str, new: bool = False) -> Callable[[Path, Path, dict[str, str]], list[str]]:
    def setup(tmp: Path, ledger: Path, env: dict[str, str]) -> list[str]:
        target = ledger if not new else ledger.parent / "new.db"
        ledger.parent.chmod(0o555)
        return ["--db", str(target), *args]
    return setup


def _forged_stamp(version: str, *args: str) -> Callable[[Path, Path, dict[str, str]], list[str]]:
    def setup(tmp: Path, ledger: Path, env: dict[str, str]) -> list[str]:
        with sqlite3.connect(ledger) as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (version,))
        conn.close()
        return ["--db", str(ledger), *args]
    return setup


def _url(url: str, *args: str) -> Callable[[Path, Path, dict[str, str]], list[str]]:
    return lambda tmp, ledger, env: ["--db", url, *args]


CASES = [
    # clock
    Case("DUBAN_NOW garbage", _with_env("DUBAN_NOW", "garbage", "task", "list"), 1, ("DUBAN_NOW", "garbage")),
    Case("DUBAN_NOW no such day", _with_env("DUBAN_NOW", "2025-02-30", "task", "note", "16", "x"), 1,
         ("DUBAN_NOW", "2025-02-30")),
    Case("deadline 9999-12-31", _on_ledger("task", "extend", "16", "--due", "9999-12-31", "--reason", "x"), 2,
         ("9999-12-31", "2199-12-31")),
    Case("deadline 99999d", _on_ledger("task", "extend", "16", "--due", "99999d", "--reason", "x"), 2,
         ("99999d",)),
    Case("task id beyond any id", _on_ledger("task", "show", "99999999999999999999999"), 2,
         ("99999999999999999999999",)),
    Case("note on an id beyond any id", _on_ledger("task", "note", "99999999999999999999999", "x"), 2,
         ("99999999999999999999999",)),
    # config
    Case("DUBAN_CONFIG is a directory", _config(None, "task", "list"), 1, ("配置文件", "目录")),
    Case("config not UTF-8", _config("\\xfffe00", "task", "list"), 1, ("配置文件", "UTF-8")),
    Case("config trust_os_user not a boolean",
         _config('[security]\ntrust_os_user = "no"\n', "--as", "duchaju", "task", "note", "16", "x"), 1,
         ("trust_os_user", "「no」")),
    # database path and file kinds
    Case("--db is a directory", lambda tmp, ledger, env: ["--db", str(tmp), "task", "list"], 1,
         ("文件夹",), watched=lambda tmp, ledger: tmp),
    Case("--db is missing: nothing created", lambda tmp, ledger, env: ["--db", str(tmp / "none.db"), "task", "list"],
         1, ("none.db", "duban init"), watched=lambda tmp, ledger: tmp / "none.db"),
    Case("text file as ledger", _db_file(_text_file, "task", "list"), 1, ("other.db", "不是 SQLite 数据库"),
         watched=_other_db),
    Case("text file as ledger, audit verify", _db_file(_text_file, "audit", "verify"), 1,
         ("other.db", "不是 SQLite 数据库"), watched=_other_db),
    Case("text file as ledger, write", _db_file(_text_file, "task", "note", "16", "x"), 1,
         ("other.db", "不是 SQLite 数据库"), watched=_other_db),
    Case("truncated ledger", _db_file(_truncated, "task", "list"), 1, ("other.db", "已损坏"), watched=_other_db),
    Case("truncated ledger, audit verify", _db_file(_truncated, "audit", "verify"), 1, ("other.db", "已损坏"),
         watched=_other_db),
    # permissions
    Case("read-only ledger file, write", _read_only_file("task", "note", "16", "x"), 1, ("demo.db", "只读"),
         needs_permissions=True),
    Case("read-only ledger file, flag", _read_only_file("task", "flag", "15"), 1, ("demo.db", "只读"),
         needs_permissions=True),
    Case("ledger in a read-only folder, task list", _read_only_folder("task", "list"), 1, ("demo.db",),
         needs_permissions=True),
    Case("ledger in a read-only folder, audit verify", _read_only_folder("audit", "verify"), 1, ("demo.db",),
         needs_permissions=True),
    Case("ledger in a read-only folder, write", _read_only_folder("task", "note", "16", "x"), 1, ("demo.db",),
         needs_permissions=True),
    Case("init in a read-only folder", _read_only_folder("init", new=True), 1, ("new.db", "文件夹"),
         needs_permissions=True, watched=lambda tmp, ledger: ledger.parent / "new.db"),
    # URLs
    Case("unreachable PostgreSQL", _url(f"postgresql+psycopg://duban:{PG_PASSWORD}@127.0.0.1:9/ledger", "task", "list"),
         1, ("127.0.0.1", "无法连接数据库服务器"), never_printed=(PG_PASSWORD,)),
    Case("mysql URL", _url(f"mysql://duban:{PG_PASSWORD}@127.0.0.1/ledger", "task", "list"), 1, ("mysql",),
         never_printed=(PG_PASSWORD,)),
    Case("URL with a port that is no number", _url(f"postgresql+psycopg://duban:{PG_PASSWORD}@h:port/x", "summary"),
         1, ("不是数据库地址",), never_printed=(PG_PASSWORD,)),
    # schema stamps
    Case("db upgrade on a forged older stamp", _forged_stamp("0001", "db", "upgrade"), 1, ("0001", "version stamp")),
    Case("db upgrade on an unknown stamp", _forged_stamp("zzzz", "db", "upgrade"), 1, ("zzzz", "更新")),
    Case("command on an unknown stamp", _forged_stamp("zzzz", "task", "list"), 1, ("zzzz",)),
    # acting user
    Case("--as ''", _on_ledger("--as", "", "task", "note", "16", "x"), 2, ("--as", "用户名为空")),
    Case("DUBAN_USER ''", _with_env("DUBAN_USER", "", "task", "note", "16", "x"), 2, ("DUBAN_USER", "用户名为空")),
    Case("--as an unregistered name", _on_ledger("--as", "ghost", "task", "note", "16", "x"), 1,
         ("ghost", "未登记")),
    Case("DUBAN_USER an unregistered name", _with_env("DUBAN_USER", "ghost", "task", "note", "16", "x"), 1,
         ("ghost", "未登记")),
    Case("trust_os_user = false: a unit's login acts as a supervisor",
         _config("[security]\ntrust_os_user = false\n", "--as", "duchaju", "task", "note", "16", "x"), 1,
         ("trust_os_user", "duchaju")),
]


def _may_test_permissions() -> list[str] | None:
    """The prefix that makes file modes bind this process's children, or None if nothing can."""
    if os.geteuid() != 0:
        return []
    return DROP_ROOT_BYPASS if shutil.which("setpriv") else None


@pytest.fixture
def ledger_copy(demo_ledger: Path, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "ledger"
    folder.mkdir()
    copy = folder / "demo.db"
    shutil.copy(demo_ledger, copy)
    # the ledger's trail key lives outside the database, in the user data dir: the copy keeps its key
    shutil.copytree(demo_ledger.parent / "xdg-data", tmp_path / "xdg-data", dirs_exist_ok=True)
    yield copy
    folder.chmod(0o755)
    if copy.exists():
        copy.chmod(0o644)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_environment_is_refused_by_name_and_changes_nothing(case: Case, ledger_copy: Path, tmp_path: Path) -> None:
    env = _base_env(tmp_path)
    prefix: list[str] = []
    if case.needs_permissions:
        found = _may_test_permissions()
        if found is None:
            pytest.skip("running as root without setpriv: file modes cannot be made to bind")
        prefix = found
    if "trust_os_user = false" in case.name or case.name.startswith("trust_os_user"):
        env.update(LOGNAME="bangongshi", USER="bangongshi")  # a unit's liaison at the keyboard
    args = case.setup(tmp_path, ledger_copy, env)
    watched = case.watched(tmp_path, ledger_copy)
    before = rows_of(watched) if watched != tmp_path else "folder"
    done = duban(args, env, prefix=prefix)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == case.code, output
    for name in case.names:
        assert name in output, (name, output)
    for secret in case.never_printed:
        assert secret not in output, output
    assert "unexpected error" not in output and "意外错误" not in output, output  # a real message, not the last resort
    if watched != tmp_path:
        ledger_copy.parent.chmod(0o755)
        assert rows_of(watched) == before


def test_the_trust_os_user_setting_lets_an_admins_login_act_as_another_user(ledger_copy: Path, tmp_path: Path) -> None:
    env = _base_env(tmp_path)
    (tmp_path / "config.toml").write_text("[security]\ntrust_os_user = false\n", encoding="utf-8")
    env["DUBAN_CONFIG"] = str(tmp_path / "config.toml")
    done = duban(["--db", str(ledger_copy), "--as", "duchaju", "task", "note", "16", "checked on site"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    env.update(LOGNAME="duchaju", USER="duchaju")
    done = duban(["--db", str(ledger_copy), "task", "note", "16", "as myself"], env)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------------- the last resort
def test_an_unforeseen_error_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli
    from engine.core import ledger

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom at postgresql://duban:hunter2@db.example/ledger")

    monkeypatch.setattr(ledger.Ledger, "summary", broken, raising=True)
    db = tmp_path / "l.db"
    assert CliRunner().invoke(cli, ["--db", str(db), "init"], env={"DUBAN_NOW": NOW}).exit_code == 0
    result = CliRunner().invoke(cli, ["--db", str(db), "--lang", "zh", "summary"], env={"DUBAN_NOW": NOW})
    assert result.exit_code == 1, result.output
    assert "意外错误（RuntimeError: boom" in result.output  # in the chosen language, like every refusal
    assert "DUBAN_DEBUG=1" in result.output
    english = CliRunner().invoke(cli, ["--db", str(db), "--lang", "en", "summary"], env={"DUBAN_NOW": NOW})
    assert "unexpected error (RuntimeError: boom" in english.output
    assert "hunter2" not in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1

    shown = CliRunner().invoke(cli, ["--db", str(db), "summary"], env={"DUBAN_NOW": NOW, "DUBAN_DEBUG": "1"})
    assert isinstance(shown.exception, RuntimeError)  # the traceback is there for a bug report
