"""The team's workspace under load, beside Datasette serving the same SQLite file, in one run.

1. Latency on a ledger of N tasks (default 100,000, imported with ``duban import`` so the trail holds
   them all): ``GET /api/v1/tasks?limit=20`` and a task page (``GET /tasks/ID``, signed in) from
   ``duban serve``, against Datasette's ``GET /ledger/tasks.json?_size=20&_nosuggest=1`` on the same
   database file (without ``_nosuggest`` Datasette works out facet suggestions on every call).
   Sequential requests over loopback after a warm-up; p50 and p95 in milliseconds, and duban ÷ Datasette.
2. Load: C concurrent clients (default 50) for D seconds (default 60), 80% reads (task lists with
   filters, task JSON, histories) and 20% writes (notes, moves with the version read, small evidence
   uploads), on SQLite (one worker) and, with --pg URL, on PostgreSQL with --workers 2. Prints
   requests per second and p50/p95/p99 per kind, the status codes seen; fails on any 5xx or any
   409 that is not a stale version or a move the task's state no longer allows; then runs
   ``duban audit verify``.

    pip install -e '.[bench]'      # Datasette
    python benchmarks/bench_web.py [--tasks 100000] [--clients 50] [--duration 60] [--requests 300]
                                   [--pg URL] [--pg-tasks 100000]

Loopback only; bounded in count (--requests per latency measure) and in time (--duration per load run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_scale import generate, to_ledger_csv, today_utc  # noqa: E402

PASSWORD = "bench-password-1"
UNIT = "单位00"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, input=stdin)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


@contextmanager
def serving(cmd: list[str], env: dict[str, str], url: str, log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{' '.join(cmd)} did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def build_ledger(url: str, n: int, work: Path, env: dict[str, str]) -> dict[str, str]:
    """N imported tasks of 50 units, a supervisor and a unit user with passwords and API tokens."""
    items, ledger = work / f"items_{n}.jsonl", work / f"ledger_{n}.csv"
    generate(n, items)
    to_ledger_csv(items, ledger)
    duban = [sys.executable, "-m", "cli", "--db", url, "--as", "root"]
    run([*duban, "init"], env)
    t0 = time.perf_counter()
    run([*duban, "import", str(ledger), "--campaign", "bench"], env)
    print(f"  imported {n:,} tasks in {time.perf_counter() - t0:.1f} s", flush=True)
    run([*duban, "user", "add", "sup", "--role", "supervisor"], env)
    run([*duban, "user", "add", "unit00", "--role", "unit", "--unit", UNIT], env)
    tokens = {}
    for name in ("sup", "unit00"):
        run([*duban, "user", "passwd", name, "--password-stdin"], env, stdin=PASSWORD + "\n")
        tokens[name] = run([*duban, "user", "token", name], env).strip().splitlines()[-1]
    return tokens


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed_gets(client: httpx.Client, path: str, count: int, **kw: Any) -> list[float]:
    for _ in range(max(10, count // 10)):  # warm-up
        client.get(path, **kw).raise_for_status()
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        response = client.get(path, **kw)
        samples.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    return samples


def login(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
    if done.status_code != 303:
        raise SystemExit(f"login as {name} failed: {done.status_code}")
    return client


def latency(args: argparse.Namespace, url: str, db_file: Path, tokens: dict[str, str], env: dict[str, str],
            work: Path) -> None:
    port, ds_port = free_port(), free_port()
    base, ds_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ds_port}"
    serve = [sys.executable, "-m", "cli", "--db", url, "serve", "--port", str(port)]
    datasette = [sys.executable, "-m", "datasette", "serve", str(db_file), "-p", str(ds_port)]
    with serving(serve, env, f"{base}/login", work / "serve.log"), \
            serving(datasette, env, f"{ds_base}/-/versions.json", work / "datasette.log"):
        api = httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {tokens['sup']}"})
        unit_api = httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {tokens['unit00']}"})
        first = api.get("/api/v1/tasks", params={"limit": 1}).json()[0]["id"]
        page = login(base, "sup")
        ds = httpx.Client(base_url=ds_base, timeout=30)
        name = db_file.stem
        rows = {
            "GET /api/v1/tasks?limit=20 (supervisor)": timed_gets(api, "/api/v1/tasks?limit=20", args.requests),
            f"GET /api/v1/tasks?limit=20 (unit of {UNIT})": timed_gets(unit_api, "/api/v1/tasks?limit=20",
                                                                       args.requests),
            f"GET /tasks/{first} (task page)": timed_gets(page, f"/tasks/{first}", args.requests),
            # _nosuggest: without it Datasette works out facet suggestions on every call (2.7 s at 100,000
            # rows); the peer is measured at its fastest
            f"Datasette GET /{name}/tasks.json?_size=20": timed_gets(ds, f"/{name}/tasks.json?_size=20&_nosuggest=1",
                                                                     args.requests),
        }
    peer = percentile(rows[f"Datasette GET /{name}/tasks.json?_size=20"], 95)
    print(f"\nLatency on SQLite, {args.tasks:,} tasks, {args.requests} sequential requests each (ms)")
    print(f"{'request':55} {'p50':>7} {'p95':>7} {'p95 ÷ Datasette':>16}")
    for label, samples in rows.items():
        p50, p95 = percentile(samples, 50), percentile(samples, 95)
        print(f"{label:55} {p50:7.2f} {p95:7.2f} {p95 / peer:16.2f}")


# ---------------------------------------------------------------------------------- load
class Load:
    def __init__(self, base: str, tokens: dict[str, str], unit_ids: list[int], all_ids: list[int],
                 duration: float, clients: int, seed: int = 12) -> None:
        self.base, self.tokens, self.unit_ids, self.all_ids = base, tokens, unit_ids, all_ids
        self.duration, self.clients = duration, clients
        self.rng = random.Random(seed)
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.unexpected: list[str] = []

    async def client(self, index: int) -> None:
        who = "unit00" if index % 2 else "sup"
        ids = self.unit_ids if who == "unit00" else self.all_ids
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        rng = random.Random(index)
        async with httpx.AsyncClient(base_url=self.base, headers=headers, timeout=60) as http:
            end = time.monotonic() + self.duration
            while time.monotonic() < end:
                task = rng.choice(ids)
                roll = rng.random()
                if roll < 0.8:
                    kind = rng.choice(["list", "list-filtered", "task", "history"])
                    request = {"list": ("GET", "/api/v1/tasks", {"params": {"limit": 20, "offset": rng.randint(0, 200)}}),
                               "list-filtered": ("GET", "/api/v1/tasks", {"params": {"overdue": "true", "limit": 20}}),
                               "task": ("GET", f"/api/v1/tasks/{task}", {}),
                               "history": ("GET", f"/api/v1/tasks/{task}/history", {})}[kind]
                else:
                    kind = rng.choice(["note", "move", "upload"])
                    if kind == "note":
                        request = ("POST", f"/api/v1/tasks/{task}/notes", {"json": {"text": f"进展 {index}"}})
                    elif kind == "upload":
                        request = ("POST", f"/api/v1/tasks/{task}/evidence",
                                   {"files": {"file": (f"photo-{index}.jpg", os.urandom(2048))}, "data": {"note": "现场"}})
                    else:
                        got = await http.get(f"/api/v1/tasks/{task}")
                        detail = got.json()
                        # units move their own work forward; supervisors also strike off and send back
                        mine = [e for e in detail.get("allowed_events", [])
                                if who == "sup" or e in ("start", "phase", "complete")]
                        event = mine[0] if mine else "start"
                        body = {"version": detail["task"]["version"]}
                        if event == "complete":
                            body["note"] = "已完成"
                        elif event == "phase":
                            body.update(plan="后续计划", target=(today_utc().replace(year=today_utc().year + 1)).isoformat())
                        elif event in ("return", "reopen"):
                            body["reason"] = "复查"
                            if event == "reopen":
                                body["due"] = "30d"
                        request = ("POST", f"/api/v1/tasks/{task}/events/{event}", {"json": body})
                method, path, kw = request
                t0 = time.perf_counter()
                response = await http.request(method, path, **kw)
                self.times[kind].append((time.perf_counter() - t0) * 1000)
                self.statuses[(kind, response.status_code)] += 1
                if response.status_code >= 500:
                    self.unexpected.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
                elif response.status_code == 409:
                    code = response.json().get("code")
                    if code not in ("conflict", "transition_not_allowed", "precondition_failed"):
                        self.unexpected.append(f"{method} {path}: 409 {code}")

    async def run(self) -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(self.client(i) for i in range(self.clients)))
        return time.perf_counter() - t0


def load(args: argparse.Namespace, label: str, url: str, tokens: dict[str, str], env: dict[str, str], work: Path,
         workers: int) -> bool:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "cli", "--db", url, "serve", "--port", str(port), "--workers", str(workers)]
    with serving(serve, env, f"{base}/login", work / f"serve-load-{label}.log"):
        sup = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {tokens['sup']}"})
        unit = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {tokens['unit00']}"})
        unit_ids = [t["id"] for t in unit.get("/api/v1/tasks", params={"limit": 1000}).json()]
        all_ids = [t["id"] for t in sup.get("/api/v1/tasks", params={"limit": 1000,
                                                                     "offset": 5000}).json()] + unit_ids
        runner = Load(base, tokens, unit_ids, all_ids, args.duration, args.clients)
        elapsed = asyncio.run(runner.run())
    total = sum(len(v) for v in runner.times.values())
    print(f"\nLoad on {label} ({workers} worker(s)): {args.clients} clients for {elapsed:.0f} s, "
          f"{total:,} requests, {total / elapsed:,.0f} requests/s")
    print(f"{'kind':15} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
    for kind in sorted(runner.times):
        samples = runner.times[kind]
        statuses = ", ".join(f"{code}×{n}" for (k, code), n in sorted(runner.statuses.items()) if k == kind)
        print(f"{kind:15} {len(samples):7,} {percentile(samples, 50):8.1f} {percentile(samples, 95):8.1f} "
              f"{percentile(samples, 99):8.1f}  {statuses}")
    everything = [s for v in runner.times.values() for s in v]
    print(f"{'all':15} {len(everything):7,} {percentile(everything, 50):8.1f} {percentile(everything, 95):8.1f} "
          f"{percentile(everything, 99):8.1f}")
    verify = subprocess.run([sys.executable, "-m", "cli", "--db", url, "--as", "root", "audit", "verify"], env=env,
                            capture_output=True, text=True)
    print(f"audit verify: {'passed' if verify.returncode == 0 else 'FAILED: ' + verify.stdout[-500:] + verify.stderr[-500:]}")
    for line in runner.unexpected[:10]:
        print(f"unexpected: {line}")
    return not runner.unexpected and verify.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per latency measure")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of each load run")
    parser.add_argument("--pg", default=os.environ.get("DUBAN_TEST_PG"), help="PostgreSQL URL for the load run there")
    parser.add_argument("--pg-tasks", type=int, default=100_000)
    args = parser.parse_args()
    if shutil.which("datasette") is None and subprocess.run([sys.executable, "-c", "import datasette"]).returncode:
        raise SystemExit("Datasette is not installed: pip install -e '.[bench]'")
    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT), DUBAN_EVIDENCE_DIR=str(work / "evidence"),
               XDG_DATA_HOME=str(work / "data"), XDG_CONFIG_HOME=str(work / "config"),
               DUBAN_NOW=f"{today_utc().isoformat()}T12:00:00+00:00")
    for var in ("DUBAN_USER", "DUBAN_DB", "DUBAN_CONFIG"):
        env.pop(var, None)
    ok = True
    try:
        print(f"SQLite ledger of {args.tasks:,} tasks in {work}", flush=True)
        db_file = work / "ledger.db"
        url = f"sqlite:///{db_file}"
        tokens = build_ledger(url, args.tasks, work, env)
        latency(args, url, db_file, tokens, env, work)
        ok &= load(args, "SQLite", url, tokens, env, work, workers=1)
        if args.pg:
            import sqlalchemy as sa

            schema = f"bench_web_{os.getpid()}"
            admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            try:
                sep = "&" if "?" in args.pg else "?"
                pg_url = f"{args.pg}{sep}options=-csearch_path%3D{schema}"
                print(f"\nPostgreSQL ledger of {args.pg_tasks:,} tasks", flush=True)
                (work / "pg").mkdir()
                pg_tokens = build_ledger(pg_url, args.pg_tasks, work / "pg", env)
                ok &= load(args, "PostgreSQL", pg_url, pg_tokens, env, work, workers=2)
            finally:
                with admin.connect() as c:
                    c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                admin.dispose()
        else:
            print("\n(no --pg URL or DUBAN_TEST_PG: the PostgreSQL load run is left out)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
