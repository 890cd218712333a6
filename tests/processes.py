"""Processes a test starts (schedulers) that must not outlive it, even when the test fails.

Imported as ``processes`` by conftest and by the tests alike (one module object: a test module
importing ``tests.conftest`` would get a second copy of conftest's globals).
"""

from __future__ import annotations

import subprocess

STARTED: list[subprocess.Popen] = []


def reap() -> None:
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
