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
from typing import TYPE_CHECKING

from engine.core.errors import InvalidInput, Phrase, config_key
from engine.i18n import N_

if TYPE_CHECKING:
    from engine.core.config import Settings


@contextmanager
def atomic_output(target: Path | str) -> Iterator[Path]:
    """A temporary path beside ``target`` to write to; it replaces ``target`` when the block ends
    without an error, and is removed when it ends with one."""
    target = Path(target)
    folder = target.resolve().parent
    if not folder.is_dir():
        raise InvalidInput("output file", str(target), Phrase(N_("its folder {folder} does not exist; create it or "
                                                                 "choose another path"), folder=str(folder)))
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


DEFAULT_EVIDENCE_MAX_MB = 200


def evidence_max_mb(settings: "Settings") -> int | float:
    """``[evidence] max_mb`` in the config (default 200), checked: what ``config show`` lists."""
    raw = settings.section("evidence").get("max_mb", DEFAULT_EVIDENCE_MAX_MB)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        raise InvalidInput(config_key(f"{settings.source or 'config'}: evidence.max_mb"), raw,
                           Phrase(N_("expected a positive number of megabytes (MB), e.g. 200")))
    return raw


def evidence_max_bytes(settings: "Settings") -> int:
    """The largest evidence file accepted: ``[evidence] max_mb`` in the config (default 200 MB)."""
    return int(evidence_max_mb(settings) * 1024 * 1024)


def too_large(what: str, size: int, limit: int) -> InvalidInput:
    """The refusal of a file above the configured evidence limit."""
    return InvalidInput(what, f"{size / 1024 / 1024:,.1f} MB",
                        Phrase(N_("evidence files may be at most {limit} MB ([evidence] max_mb in the config); "
                                  "split or compress it, or ask an admin to raise the limit"),
                               limit=f"{limit / 1024 / 1024:,.0f}"))
