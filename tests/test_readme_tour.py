"""The README's commands run as written: every ``duban`` line of its shell blocks, in order, in a fresh
home after ``duban demo``. A line the README shows must not fail for the reader who types it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# Lines that would not end: the daemons are asked for their help instead (their start-up is tested elsewhere).
LONG_RUNNING = re.compile(r"\bscheduler run\b|\bserve\b")


def tour_commands() -> list[str]:
    """Every line of the README's ```sh blocks, but the set-up lines (this environment is set up) and
    the team block, which needs a PostgreSQL server and creates cluster-wide logins (its commands are
    exercised by tests/test_pg_security.py)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        if "postgresql+psycopg://" in block:
            continue
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] not in ("python3", "pip"):
                commands.append(line)
    return commands


def test_the_readme_has_a_tour() -> None:
    commands = tour_commands()
    assert commands[0].startswith("duban demo") and len(commands) > 30
    assert any("scheduler run" in c for c in commands) and any("lookback record" in c for c in commands)


def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env.update({"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
                "XDG_CACHE_HOME": str(home / "cache"), "COLUMNS": "100"})
    bindir = str(Path(sys.executable).parent)  # the duban script of this environment
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    failures = []
    for line in tour_commands():
        words = shlex.split(line, comments=True)
        assignments = {}
        while re.match(r"^[A-Z_]+=", words[0]):
            key, _, value = words.pop(0).partition("=")
            assignments[key] = value
        if LONG_RUNNING.search(line):
            words.append("--help")
        if words[0] != "duban":  # a shell line of the tour (echo … > file)
            words = ["bash", "-c", line]
        done = subprocess.run(words, cwd=home, env={**env, **assignments}, capture_output=True, text=True,
                              timeout=300)
        if done.returncode != 0:
            failures.append(f"$ {line}\n  exit {done.returncode}: {(done.stderr or done.stdout).strip()[-400:]}")
    assert not failures, "\n".join(failures)
