"""``duban scheduler run`` as real processes on one SQLite ledger, delivering to a real HTTP receiver
on loopback that counts what it accepted: three schedulers deliver each reminder exactly once; a
scheduler killed with SIGKILL mid-sweep and restarted loses nothing and duplicates nothing;
SIGTERM lets the sweep in hand finish. Waits are bounded polls, never sleeps for a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.supervision.scheduler import build, scheduler_settings
from storage.models import Reminder
from processes import STARTED as STARTED_PROCESSES

REPO = Path(__file__).resolve().parent.parent
NOW = "2025-07-04T09:00:00"
TASKS = 30


class Receiver:
    """Counts the webhook posts it ACCEPTED (answered 200). ``hold`` makes the n-th request wait
    unanswered until released; such a request is not accepted (its sender never got a 200)."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.posts = 0
        self.seen = 0
        self.hold_at: int | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner.lock:
                    owner.seen += 1
                    n = owner.seen
                if n == owner.hold_at:
                    owner.held.set()
                    owner.release.wait(60)
                    if owner.drop_held:
                        return  # no answer: the connection closes, the sender sees a failure
                with owner.lock:  # a digest carries several reminders: each one is counted
                    owner.accepted.extend([i["key"] for i in body["items"]] if "items" in body else [body["key"]])
                    owner.posts += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.drop_held = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.release.set()
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def ledger(tmp_path: Path, receiver: Receiver) -> tuple[Path, Path]:
    """An SQLite ledger with TASKS tasks due today (one on-day reminder each, to user office) and a
    config sending every reminder to the receiver."""
    db = tmp_path / "ledger.db"
    app = Duban(str(db), clock=FixedClock(NOW), settings=Settings(), blob_root=tmp_path / "ev")
    app.init("root")
    app.add_user("root", "sup", "supervisor")
    app.add_user("root", "office", "unit", unit="办公室")
    app.add_campaign("root", "C2025", inspector="巡察组", target="机关", feedback_date=FixedClock(NOW).now().date())
    app.add_problem("root", "A1", "财经纪律")
    with app.batch():
        for n in range(TASKS):
            app.add_task("sup", f"事项{n}", problem="A1", leader="主任", unit="办公室", due="2025-07-04")
    cfg = tmp_path / "duban.toml"
    # Small digests (a few reminders each) and no rate limit to speak of: many posts, each with some tasks' lines.
    cfg.write_text(f'[channels.webhook]\nformat = "json"\nurl = "{receiver.url}"\ntimeout = 30\n'
                   'max_bytes = 700\nper_minute = 1000\n'
                   '[digest]\nenabled = false\n[delivery]\nlease = "5m"\n', encoding="utf-8")
    return db, cfg


def start(db: Path, cfg: Path, tmp_path: Path, name: str, now: str = NOW) -> subprocess.Popen:
    env = dict(os.environ, DUBAN_NOW=now, DUBAN_CONFIG=str(cfg))
    log = (tmp_path / f"{name}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "cli", "--db", str(db), "scheduler", "run", "--every", "1s", "-v"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    STARTED_PROCESSES.append(proc)
    return proc


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def statuses(db: Path) -> Counter:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return Counter(dict(conn.execute(sa.select(Reminder.status, sa.func.count()).group_by(Reminder.status)).all()))
    finally:
        engine.dispose()


def sweeps(tmp_path: Path, name: str) -> int:
    return (tmp_path / f"{name}.log").read_text().count("duban.scheduler INFO sweep:")


def stop(procs: list[subprocess.Popen]) -> list[int]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    return [p.wait(60) for p in procs]


def logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(tmp_path.glob("*.log")))


def test_three_schedulers_deliver_each_reminder_exactly_once(ledger: tuple[Path, Path], receiver: Receiver,
                                                            tmp_path: Path) -> None:
    db, cfg = ledger
    procs = [start(db, cfg, tmp_path, f"s{i}") for i in range(3)]
    try:
        wait_for(lambda: statuses(db).get("sent", 0) == TASKS, what=f"{TASKS} sent reminders:\n{logs(tmp_path)}")
        # Every scheduler sweeps twice more after everything was sent: none of them sends again.
        done = {i: sweeps(tmp_path, f"s{i}") for i in range(3)}
        wait_for(lambda: all(sweeps(tmp_path, f"s{i}") >= done[i] + 2 for i in range(3)),
                 what=f"two more sweeps each:\n{logs(tmp_path)}")
        seen = receiver.seen
    finally:
        codes = stop(procs)
    assert codes == [0, 0, 0], logs(tmp_path)
    counts = Counter(receiver.accepted)
    assert len(counts) == TASKS and set(counts.values()) == {1}, counts
    assert receiver.seen == seen == receiver.posts and 1 < receiver.posts < TASKS  # digests, each posted once
    assert statuses(db) == Counter({"sent": TASKS})


def test_a_scheduler_killed_mid_sweep_and_restarted_loses_nothing_and_duplicates_nothing(
        ledger: tuple[Path, Path], receiver: Receiver, tmp_path: Path) -> None:
    db, cfg = ledger
    receiver.hold_at = 5  # the 5th send hangs: the process is killed while it waits for the answer
    first = start(db, cfg, tmp_path, "first")
    try:
        assert receiver.held.wait(60), logs(tmp_path)
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
    finally:
        receiver.release.set()
    after_kill = statuses(db)  # the 5th digest is leased mid-send; the rest of its batch leased or still pending
    assert after_kill["sent"] == len(receiver.accepted) and after_kill["sending"] >= 1
    assert sum(after_kill.values()) == TASKS and receiver.posts == 4
    assert set(after_kill) <= {"sent", "sending", "pending"}
    # Restarted after the lease of the interrupted send ran out (5 minutes; the clock is DUBAN_NOW).
    second = start(db, cfg, tmp_path, "second", now="2025-07-04T09:10:00")
    try:
        wait_for(lambda: statuses(db).get("sent", 0) == TASKS, what=f"all sent after restart:\n{logs(tmp_path)}")
    finally:
        assert stop([second]) == [0], logs(tmp_path)
    counts = Counter(receiver.accepted)
    assert len(counts) == TASKS and set(counts.values()) == {1}, counts


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_lets_the_sweep_in_hand_finish(ledger: tuple[Path, Path], receiver: Receiver, tmp_path: Path,
                                                    signum: int) -> None:
    db, cfg = ledger
    receiver.hold_at = 1
    receiver.drop_held = False  # the held request is answered once released
    proc = start(db, cfg, tmp_path, "term")
    try:
        assert receiver.held.wait(60), logs(tmp_path)
        proc.send_signal(signum)  # mid-sweep: the first send is waiting for its answer
    finally:
        receiver.release.set()
    assert proc.wait(60) == 0, logs(tmp_path)
    assert statuses(db) == Counter({"sent": TASKS})
    assert len(set(receiver.accepted)) == len(receiver.accepted) == TASKS


def test_the_scheduler_holds_a_few_periodic_jobs_that_run_a_missed_sweep_once(tmp_path: Path) -> None:
    app = Duban(str(tmp_path / "l.db"), clock=FixedClock(NOW), settings=Settings())
    sched = build(app, scheduler_settings(Settings(raw={"digest": {"time": "08:00"}}), "2m"))
    jobs = {job.id: job for job in sched.get_jobs()}
    assert set(jobs) <= {"sweep", "digest", "lookback"} and {"sweep", "digest"} <= set(jobs)
    for job in jobs.values():
        assert job.coalesce is True and job.misfire_grace_time is None and job.max_instances == 1
    assert jobs["sweep"].trigger.interval.total_seconds() == 120
    digest = jobs["digest"].trigger
    assert str(digest.timezone) == "Asia/Shanghai"
    assert {f.name: str(f) for f in digest.fields}["hour"] == "8"
