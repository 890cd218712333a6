"""What the engine hands out turns into JSON exactly: dates as ISO text, money as exact text,
views (nested too) as dicts in field order, and nothing else silently stringified."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engine.core.views import json_default, jsonable


@dataclass
class Inner:
    on: date
    amount: Decimal


@dataclass
class Outer:
    name: str
    at: datetime
    items: list[Inner] = field(default_factory=list)
    pair: tuple[int, date] = (1, date(2025, 1, 2))


def test_views_nested_in_lists_become_dicts_in_field_order() -> None:
    value = Outer("甲", datetime(2025, 7, 4, 1, 2, tzinfo=UTC), [Inner(date(2025, 10, 31), Decimal("240.00"))])
    expected = {"name": "甲", "at": "2025-07-04T01:02:00+00:00",
                "items": [{"on": "2025-10-31", "amount": "240.00"}], "pair": [1, "2025-01-02"]}
    assert jsonable(value) == expected
    assert list(jsonable(value)) == ["name", "at", "items", "pair"]
    assert json.loads(json.dumps(value, default=json_default)) == expected


def test_an_object_json_has_no_form_for_is_refused_not_stringified() -> None:
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        json.dumps({"x": object()}, default=json_default)
