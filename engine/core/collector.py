"""Python's cycle collector held off while one large read or write builds its objects."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cycle collector off for the block, back as it was on every way out.

    An import of 100,000 rows or a report of 100,000 items makes millions of objects that outlive the
    block and form no cycles; the collector would walk them again and again (a quarter of an import's
    CPU time, a sixth of a report's). A collector someone else turned off stays off.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
