"""Operations: one sweep for cron and the scheduler, retrying reminders, evidence size limits,
a bounded ``task list`` and progress reported by the engine for the CLI to draw."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from engine.api import Duban


class Cli:
    def __init__(self, db: Path, tmp_path: Path) -> None:
        self.db, self.tmp = db, tmp_path
        self.config: Path | None = None

    def __call__(self, *args: str, now: str = "2026-03-01", user: str = "admin") -> Result:
        env = {"DUBAN_NOW": now, "DUBAN_USER": user, "COLUMNS": "200"}
        if self.config is not None:
            env["DUBAN_CONFIG"] = str(self.config)
        result = CliRunner().invoke(cli, ["--db", str(self.db), *args], env=env)
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str, **kw: str) -> object:
        result = self(*args, "--json", **kw)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    def configure(self, text: str) -> None:
        self.config = self.tmp / "config.toml"
        self.config.write_text(text, encoding="utf-8")


@pytest.fixture
def demo(tmp_path: Path) -> Cli:
    run = Cli(tmp_path / "demo.db", tmp_path)
    assert run("demo").exit_code == 0
    return run


# ---------------------------------------------------------------------- one sweep
def test_remind_sends_the_lookback_reminders_the_scheduler_sends(demo: Cli) -> None:
    """Regression: on the demo 252 days after its look-backs came due, 'duban remind' planned none
    of the 7 look-back reminders (items completed or reviewed) that 'scheduler run' sent."""
    late = "2026-12-01"
    lookbacks = [lb for lb in demo.json("lookback", "list", now=late) if lb["status"] == "pending"]
    due = {lb["task_id"] for lb in lookbacks if lb["due"] <= late}
    assert len(due) == 7
    planned = demo.json("remind", "--dry-run", now=late)
    assert {r["task_id"] for r in planned["reminders"] if r["rule"] == "lookback"} == due
    assert demo("remind", now=late).exit_code == 0
    sent = demo.json("reminders", "list", now=late)
    assert {r["task_id"] for r in sent if r["rule"] == "lookback" and r["status"] == "sent"} == due
    # the scheduler runs that very sweep: nothing is left for it to send
    from engine.supervision import reminders, scheduler

    app = Duban(str(demo.db))
    jobs = {job.id: job for job in scheduler.build(app, scheduler.scheduler_settings(app.settings)).get_jobs()}
    assert set(jobs) == {"sweep", "digest"}
    import os

    os.environ["DUBAN_NOW"] = late
    try:
        again = reminders.sweep(Duban(str(demo.db)), dry_run=True)
    finally:
        del os.environ["DUBAN_NOW"]
    assert again.reminders == []


# ---------------------------------------------------------------------- retry
def test_reminders_retry_requeues_dead_and_failed_reminders(demo: Cli, tmp_path: Path) -> None:
    """Regression: a reminder that reached max_attempts could never be sent again."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()  # a folder where the outbox file should be: every send fails
    # The test's day is a Sunday: [quiet] days = false lets reminders go (quiet days are
    # test_reminders_quiet.py's); this test is about retries.
    demo.configure(f'[channels.file]\npath = "{outbox}"\n[delivery]\nmax_attempts = 1\n[quiet]\ndays = false\n')
    assert demo("remind").exit_code == 1
    dead = demo.json("reminders", "list", "--failed")
    assert dead and {r["status"] for r in dead} == {"dead"}
    assert demo("remind").exit_code == 0  # nothing left to try: they are dead
    one = dead[0]["id"]
    refused = demo("reminders", "retry", str(one), user="bangongshi")  # a unit's liaison
    assert refused.exit_code == 1 and "retry reminders" in refused.output
    outbox.rmdir()  # the outbox works again
    again = demo.json("reminders", "retry", str(one))
    assert [(r["id"], r["status"], r["attempts"]) for r in again] == [(one, "pending", 0)]
    assert demo("remind").exit_code == 0
    assert {r["id"]: r["status"] for r in demo.json("reminders", "list")}[one] == "sent"
    assert demo("reminders", "retry", str(one)).exit_code == 1  # sent: nothing to retry
    rest = demo.json("reminders", "retry", "--dead")
    assert {r["id"] for r in rest} == {r["id"] for r in dead} - {one}
    assert demo("remind").exit_code == 0
    assert demo.json("reminders", "list", "--failed") == []
    assert len(outbox.read_text(encoding="utf-8").splitlines()) == len(dead)
    assert demo("reminders", "retry", "999999").exit_code == 1


# ---------------------------------------------------------------------- evidence
def test_evidence_above_the_configured_size_is_refused_and_nothing_is_stored(demo: Cli, tmp_path: Path) -> None:
    demo.configure("[evidence]\nmax_mb = 1\n")
    big = tmp_path / "scan.pdf"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    before = demo.json("evidence", "list", "16")
    refused = demo("evidence", "add", "16", str(big))
    assert refused.exit_code == 1 and "1.0 MB" in refused.output and "max_mb" in refused.output
    assert demo.json("evidence", "list", "16") == before
    store = Path(f"{demo.db}.evidence")
    assert not any(p.is_file() and p.stat().st_size > 1024 * 1024 for p in store.rglob("*"))
    small = tmp_path / "minutes.pdf"
    small.write_bytes(b"y" * (1024 * 1024))
    assert demo("evidence", "add", "16", str(small)).exit_code == 0
    demo.configure("[evidence]\nmax_mb = \"lots\"\n")
    bad = demo("evidence", "add", "16", str(small))
    assert bad.exit_code == 1 and "evidence.max_mb" in bad.output


def test_config_show_lists_the_evidence_size_limit(demo: Cli) -> None:
    """Issue 10: ``[evidence] max_mb`` is listed with the other settings, its default filled in."""
    demo.configure("")
    assert demo.json("config", "show")["evidence"] == {"max_mb": 200}
    assert "[evidence]\nmax_mb = 200" in demo("config", "show").output
    demo.configure("[evidence]\nmax_mb = 1.5\n")
    assert demo.json("config", "show")["evidence"] == {"max_mb": 1.5}
    demo.configure("[evidence]\nmax_mb = 0\n")
    bad = demo("config", "show")
    assert bad.exit_code == 1 and "evidence.max_mb" in bad.output


def test_the_binder_streams_evidence_and_records_its_hash(demo: Cli, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the binder read each evidence file whole into memory (and its check read each
    member whole); a 200 MB scan took 471 MB. Reading a whole evidence file now fails the test."""
    from engine.ledger_io.binder import export_binder, verify_binder

    data = bytes(range(256)) * (3 * 4096 + 7)  # three chunks and a bit
    scan = tmp_path / "scan.bin"
    scan.write_bytes(data)
    assert demo("evidence", "add", "16", str(scan)).exit_code == 0
    whole_reads = []
    real_read_bytes, real_zip_read = Path.read_bytes, zipfile.ZipFile.read

    def read_bytes(self: Path) -> bytes:
        if ".evidence" in str(self):
            whole_reads.append(str(self))
        return real_read_bytes(self)

    def zip_read(self: zipfile.ZipFile, name: str, pwd: bytes | None = None) -> bytes:
        if str(name).endswith("scan.bin"):
            whole_reads.append(str(name))
        return real_zip_read(self, name, pwd)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(zipfile.ZipFile, "read", zip_read)
    monkeypatch.setenv("DUBAN_NOW", "2026-03-01")
    app = Duban(str(demo.db))
    out = tmp_path / "binder.zip"
    export_binder(app, out)
    assert verify_binder(app, out).problems == []
    assert whole_reads == []
    monkeypatch.undo()
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        (name,) = [n for n in z.namelist() if n.endswith("scan.bin")]
        assert z.read(name) == data
    assert manifest["files"][name] == hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------- task list
def test_task_list_shows_50_rows_and_says_how_many_more(demo: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: 'task list' printed every task (50,000 rows took 76 s); 16 demo tasks + 40 here."""
    monkeypatch.setenv("DUBAN_NOW", "2026-03-01")
    app = Duban(str(demo.db))
    for i in range(40):
        app.add_task("duchaju", f"问题{i}", problem="A1.1", leader="常委会党组成员", unit="办公室", due="2026-09-30")

    def rows(out: str) -> int:
        return sum(1 for line in out.splitlines() if line.split()[0].isdigit())  # a row starts with its id

    table = demo("task", "list")
    assert table.exit_code == 0
    assert rows(table.output) == 50 and "6 more" in table.output
    assert "53 more" in demo("task", "list", "--limit", "3").output
    every = demo("task", "list", "--all").output
    assert rows(every) == 56 and "more" not in every
    assert len(demo.json("task", "list")) == 56  # scripts get every task, as before
    assert demo("task", "list", "--all", "--limit", "5").exit_code == 2


# ---------------------------------------------------------------------- progress
def test_the_engine_reports_progress_and_the_cli_draws_it_only_on_a_terminal(app: Duban, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.common import PROGRESS_FROM, ProgressBar
    from engine.ledger_io.binder import export_binder
    from engine.ledger_io.exporter import export

    for i in range(3):
        app.add_task("sup", f"问题{i}", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-09-30")
    for fmt in ("csv", "xlsx"):
        seen: list[tuple[int, int]] = []
        export(app, fmt, tmp_path / f"l.{fmt}", progress=lambda d, n: seen.append((d, n)))
        assert seen[-1] == (3, 3)
    seen = []
    export_binder(app, tmp_path / "b.zip", progress=lambda d, n: seen.append((d, n)))
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)

    drawn: list[str] = []

    class FakeProgress:
        def __init__(self, **kw: object) -> None: ...
        def start(self) -> None: drawn.append("start")
        def add_task(self, label: str, total: int) -> int: return 1
        def update(self, task: int, completed: int, total: int) -> None: drawn.append(f"{completed}/{total}")
        def stop(self) -> None: drawn.append("stop")

    import rich.progress

    monkeypatch.setattr(rich.progress, "Progress", FakeProgress)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    with ProgressBar("x") as bar:
        bar(10, PROGRESS_FROM)
    assert drawn == ["start", f"10/{PROGRESS_FROM}", "stop"]
    drawn.clear()
    for bar in (ProgressBar("x", enabled=False), ProgressBar("x")):  # under --json; a small job
        with bar:
            bar(10, PROGRESS_FROM if not bar.enabled else PROGRESS_FROM - 1)
    assert drawn == []
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)  # not a terminal
    with ProgressBar("x") as bar:
        bar(10, PROGRESS_FROM)
    assert drawn == []


def test_reports_over_many_items_report_progress_and_the_cli_draws_it(demo: Cli, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: the notice, the dashboard and an itemised progress report go through every item;
    the engine reports how far it is and ``report notice``/``html``/``progress`` hand it to the bar."""
    from datetime import date

    from cli.common import ProgressBar
    from engine.reports.dashboard import dashboard_html
    from engine.reports.notice import build_notice, to_docx
    from engine.reports.progress import progress

    app = Duban(f"sqlite:///{demo.db}")
    as_of = date(2025, 12, 25)
    seen: dict[str, list[tuple[int, int]]] = {"notice": [], "docx": [], "html": [], "progress": []}
    doc = build_notice(app, as_of, progress=lambda d, n: seen["notice"].append((d, n)))
    to_docx(doc, progress=lambda d, n: seen["docx"].append((d, n)))
    dashboard_html(app, as_of, progress=lambda d, n: seen["html"].append((d, n)))
    progress(app, as_of, progress=lambda d, n: seen["progress"].append((d, n)))
    for name in ("notice", "html", "progress"):
        assert seen[name][0] == (0, 16) and seen[name][-1] == (16, 16), name
    assert seen["docx"][0][0] == 0 and seen["docx"][-1][0] == seen["docx"][-1][1] > 16

    drawn: list[tuple[str, int, int]] = []
    monkeypatch.setattr(ProgressBar, "__call__", lambda self, d, n: drawn.append((self.label, d, n)))
    assert demo("--lang", "en", "report", "notice", "--as-of", "2025-12-25", "--draft", "-o", str(tmp_path / "n.docx")).exit_code == 0
    assert ("reading the items", 16, 16) in drawn and drawn[-1][0] == "writing the notice"
    drawn.clear()
    assert demo("--lang", "en", "report", "html", "-o", str(tmp_path / "d.html")).exit_code == 0
    assert drawn[-1] == ("reading the items", 16, 16)
    drawn.clear()
    assert demo("--lang", "en", "report", "progress", "--as-of", "2025-12-25", "--explain").exit_code == 0
    assert drawn[-1] == ("reading the items", 16, 16)
    drawn.clear()
    assert demo("--lang", "en", "report", "scores", "--as-of", "2025-12-25").exit_code == 0
    assert drawn[0][:2] == ("reading the trail", 0) and drawn[-1][1] == drawn[-1][2] > 16  # trail records

    suggestions = Cli(tmp_path / "suggestions.db", tmp_path)
    assert suggestions("demo", "--case", "suggestions", now="2026-05-15T09:00:00").exit_code == 0
    drawn.clear()
    assert suggestions("--lang", "en", "report", "overview", "--workflow", "suggestion", "--as-of", "2026-05-15",
                       "--issuer", "市人大常委会办公室", "-o", str(tmp_path / "o.docx"),
                       now="2026-05-15T09:00:00").exit_code == 0
    assert drawn[-1] == ("reading the items", 20, 20)
