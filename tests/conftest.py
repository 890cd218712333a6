"""Shared fixtures. Ledger tests run on SQLite and, when DUBAN_TEST_PG names a server, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from cli_runs import EnglishCli
from processes import reap as reap_started_processes

PG_ENV = "DUBAN_TEST_PG"
TESTS = Path(__file__).parent
TEST_WORKFLOWS = TESTS / "workflows"


# Tests about years without official holiday data use 2027 and later. chinese_calendar will learn
# 2027 some day; keep those years unknown to it so the tests keep testing the fallback.
FIRST_UNKNOWN_YEAR = 2027


@pytest.fixture(autouse=True)
def _no_holiday_data_from_2027(monkeypatch: pytest.MonkeyPatch) -> None:
    import chinese_calendar

    real = chinese_calendar.is_workday

    def is_workday(day):  # type: ignore[no-untyped-def]
        if day.year >= FIRST_UNKNOWN_YEAR:
            raise NotImplementedError(f"no available data for year {day.year}")
        return real(day)

    monkeypatch.setattr(chinese_calendar, "is_workday", is_workday)


@pytest.fixture(autouse=True)
def _reap_started_processes() -> Iterator[None]:
    yield
    reap_started_processes()


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads or writes the developer's real ledger, config or evidence.

    Tests speak English unless they say otherwise (Chinese is duban's default: tests of the
    language itself unset DUBAN_LANG or pass --lang zh): DUBAN_LANG=en for the CLI and the
    processes tests start, and English as the language of the test's own context for the engine.
    """
    from engine import i18n

    for var in ("DUBAN_DB", "DUBAN_USER", "DUBAN_NOW", "DUBAN_EVIDENCE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DUBAN_LANG", "en")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    with i18n.language("en"):
        yield


def _pg_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL per test, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    base = _pg_url()
    if not base and under_ci():
        pytest.fail(f"CI must run the PostgreSQL half of the suite: {PG_ENV} is not set (see .ci/run)")
    if not base:
        pytest.skip(f"PostgreSQL runs need {PG_ENV} (a SQLAlchemy URL such as postgresql+psycopg://postgres@127.0.0.1/test)")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        from storage.engines import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock("2025-07-04T09:00:00")


@pytest.fixture
def app(db_url: str, clock: FixedClock, tmp_path: Path) -> Duban:
    """An initialised ledger with an admin ('root'), a supervisor, two units and one campaign."""
    duban = Duban(db_url, clock=clock, settings=Settings(), workflow_dirs=[TEST_WORKFLOWS],
                  blob_root=tmp_path / "evidence")
    duban.init("root")
    duban.add_user("root", "sup", "supervisor")
    duban.add_user("root", "office", "unit", unit="办公室")
    duban.add_user("root", "finance", "unit", unit="财务科")
    duban.add_user("root", "lead", "leader", unit="办公室", display="办公室主任")
    duban.add_campaign("root", "C2025", inspector="市委第一巡察组", target="市人大机关",
                       feedback_date=date(2025, 7, 3), rectification_end=date(2025, 10, 31))
    duban.add_problem("root", "A1", "财经纪律执行不严谨")
    duban.add_problem("root", "A1.1", "采购程序不规范", parent="A1")
    return duban


@pytest.fixture
def run(app: Duban, db_url: str) -> EnglishCli:
    """duban's commands (tests/cli_runs.py) on the ``app`` fixture's ledger: as root, in English, at
    2025-07-04 09:00 unless a call says otherwise."""
    return EnglishCli(db_url)


@pytest.fixture
def task_id(app: Duban) -> int:
    """One task of unit 办公室, assigned, due 2025-07-31."""
    return app.add_task("sup", "采购程序不规范", problem="A1.1", leader="办公室主任", unit="办公室",
                        due="2025-07-31").task.id
