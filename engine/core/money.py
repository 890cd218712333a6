"""Amounts of money as people type them: yuan with at most two decimals, stored as whole fen.

Strict on purpose: ``1,5`` (a European decimal comma, or a slip) must not become 15 yuan and
``1_000`` (Python's digit separator) is no way to write money in an office ledger.
"""

from __future__ import annotations

import re
from decimal import Decimal

from engine.core.errors import InvalidInput, Phrase
from engine.i18n import N_

# No recovered-funds figure comes near a trillion yuan; the ceiling also keeps fen (and sums of
# them) well inside the BIGINT column.
MAX_YUAN = Decimal(10) ** 12

_YUAN = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?", re.ASCII)
ACCEPTED = N_("expected yuan as digits with at most two decimals, thousands optionally grouped by commas "
            "in threes: 240, 240.50, 1,500.00")


def yuan_to_fen(amount: str | Decimal | int) -> int:
    """Whole fen of ``amount`` yuan; anything else than a plain, non-negative amount below the
    ceiling is refused naming the value."""
    if isinstance(amount, Decimal):
        text = format(amount, "f") if amount.is_finite() else str(amount)
    else:
        text = str(amount)
    shown = str(amount)
    text = text.strip()
    if text.startswith("-") and _YUAN.fullmatch(text[1:]):
        raise InvalidInput("amount", shown, Phrase(N_("expected a non-negative amount of yuan")))
    if not _YUAN.fullmatch(text):
        raise InvalidInput("amount", shown, Phrase(ACCEPTED))
    value = Decimal(text.replace(",", ""))
    if value >= MAX_YUAN:
        raise InvalidInput("amount", shown, Phrase(N_("expected less than {limit} yuan"), limit=f"{MAX_YUAN:,}"))
    return int(value * 100)
