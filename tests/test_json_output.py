"""``--json`` prints what scripts parse: the same text as the standard library would write for the
engine's views, however the encoder gets there."""

from __future__ import annotations

import json
from datetime import date

import pytest

from cli.common import echo_json
from engine.api import Duban
from engine.core.views import jsonable
from engine.reports.progress import progress
from tests.test_reports_support import NOTICE_AS_OF, demo  # noqa: F401


def test_a_report_prints_exactly_as_the_stdlib_writes_its_dict(demo: Duban, capsys: pytest.CaptureFixture[str]) -> None:
    report = progress(demo, NOTICE_AS_OF)
    echo_json(report)
    printed = capsys.readouterr().out
    assert printed == json.dumps(jsonable(report), ensure_ascii=False, indent=2) + "\n"
    parsed = json.loads(printed)
    assert parsed["figures"]["funds"]["amount"] == "240.00"  # money as exact decimal text
    assert parsed["as_of"] == NOTICE_AS_OF.isoformat()
    assert {t["code"] for t in parsed["tasks"]} == {t.code for t in report.tasks}


def test_plain_values_views_and_dates_mixed(demo: Duban, capsys: pytest.CaptureFixture[str]) -> None:
    data = {"task": demo.get_task(16), "on": date(2025, 12, 31), "tasks": demo.list_tasks()[:3], "n": 1.5}
    echo_json(data)
    assert capsys.readouterr().out == json.dumps(jsonable(data), ensure_ascii=False, indent=2) + "\n"
