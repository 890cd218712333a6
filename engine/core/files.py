"""Files duban writes for people (exports, notices, binders): whole or not at all.

A file is written beside its target under a temporary name, flushed to disk and renamed over the
target, so a crash or an error half-way leaves the previous file (or none), never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.core.errors import InvalidInput


@contextmanager
def atomic_output(target: Path | str) -> Iterator[Path]:
    """A temporary path beside ``target`` to write to; it replaces ``target`` when the block ends
    without an error, and is removed when it ends with one."""
    target = Path(target)
    folder = target.resolve().parent
    if not folder.is_dir():
        raise InvalidInput("output file", str(target), f"its folder {folder} does not exist; create it or "
                                                       "choose another path")
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".partial")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(target: Path | str, data: bytes) -> None:
    with atomic_output(target) as tmp:
        tmp.write_bytes(data)
