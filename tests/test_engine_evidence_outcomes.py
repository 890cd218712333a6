"""Evidence goes into the content-addressed store; outcomes carry exact money."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from engine.api import Duban
from engine.core.errors import InvalidInput, PermissionDenied


def blob_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_evidence_is_copied_into_the_store_by_its_sha256(app: Duban, task_id: int, tmp_path: Path) -> None:
    data = "会议纪要：2025-08-21 对采购人员开展提醒谈话".encode() * 100
    src = tmp_path / "纪要.docx"
    src.write_bytes(data)
    ev = app.add_evidence("office", task_id, src, note="谈话记录")
    digest = hashlib.sha256(data).hexdigest()
    assert (ev.sha256, ev.size, ev.original_name, ev.note, ev.added_by) == (digest, len(data), "纪要.docx",
                                                                           "谈话记录", "office")
    stored = app.blobs.path_for(digest)
    assert stored.read_bytes() == data
    assert app.blobs.verify(digest)
    src.unlink()  # the ledger keeps its own copy
    assert stored.read_bytes() == data
    rec = app.history(task_id)[-1]
    assert rec.event == "evidence" and rec.inputs == {"sha256": digest, "name": "纪要.docx", "size": len(data)}
    assert app.get_task(task_id).task.version == 2


def test_same_bytes_stored_once_but_recorded_twice(app: Duban, task_id: int, tmp_path: Path) -> None:
    a = tmp_path / "a.jpg"
    b = tmp_path / "b.jpg"
    a.write_bytes(b"\x89PNG same photo")
    b.write_bytes(b"\x89PNG same photo")
    e1 = app.add_evidence("office", task_id, a)
    e2 = app.add_evidence("lead", task_id, b)
    assert e1.sha256 == e2.sha256 and e1.id != e2.id
    assert blob_files(app.blobs.root) == [app.blobs.path_for(e1.sha256)]  # one blob, no temp files left
    rows = app.get_task(task_id).evidence
    assert [(r.original_name, r.sha256) for r in rows] == [("a.jpg", e1.sha256), ("b.jpg", e1.sha256)]
    app.add_evidence_bytes("office", task_id, "c.txt", b"other")
    assert len(blob_files(app.blobs.root)) == 2


def test_missing_file_and_refused_user_store_nothing(app: Duban, task_id: int, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="nope.pdf"):
        app.add_evidence("office", task_id, tmp_path / "nope.pdf")
    f = tmp_path / "x.pdf"
    f.write_bytes(b"secret")
    with pytest.raises(PermissionDenied):
        app.add_evidence("finance", task_id, f)
    assert blob_files(app.blobs.root) == []
    assert app.get_task(task_id).evidence == []
    assert len(app.history(task_id)) == 1


# --- outcomes -----------------------------------------------------------------------------


def test_funds_amount_is_exact(app: Duban, task_id: int) -> None:
    out = app.add_outcome("office", task_id, "funds", "清退超标差旅费", amount="240.00")
    assert out.amount == Decimal("240.00") and isinstance(out.amount, Decimal)
    assert app.get_task(task_id).outcomes[0].amount == Decimal("240.00")
    assert app.summary()["funds_recovered"] == "240.00"
    rec = app.history(task_id)[-1]
    assert rec.event == "outcome" and rec.inputs["amount"] == "240.00" and rec.inputs["kind"] == "funds"


def test_decimal_amounts_sum_exactly(app: Duban, task_id: int) -> None:
    app.add_outcome("office", task_id, "funds", "a", amount="0.1")
    app.add_outcome("office", task_id, "funds", "b", amount=Decimal("0.2"))
    assert app.summary()["funds_recovered"] == "0.30"
    app.add_outcome("sup", task_id, "talk", "提醒谈话")  # no amount, not counted
    app.add_outcome("office", task_id, "funds", "c", amount="1,000")
    assert app.summary()["funds_recovered"] == "1000.30"


def test_large_amounts_are_kept_exactly(app: Duban, task_id: int) -> None:
    """Funds recovered can run into hundreds of millions of yuan (beyond a 32-bit count of fen)."""
    out = app.add_outcome("office", task_id, "funds", "违规资金清退", amount="350000000.25")
    assert out.amount == Decimal("350000000.25")
    app.add_outcome("office", task_id, "funds", "再次清退", amount="21474836.48")
    assert app.get_task(task_id).outcomes[0].amount == Decimal("350000000.25")
    assert app.summary()["funds_recovered"] == "371474836.73"


@pytest.mark.parametrize("amount", ["0.001", "1.005", "-5", "abc", "NaN", "Infinity", ""])
def test_bad_amounts_refused(app: Duban, task_id: int, amount: str) -> None:
    with pytest.raises(InvalidInput, match="amount"):
        app.add_outcome("office", task_id, "funds", "x", amount=amount)
    assert app.get_task(task_id).outcomes == []
    assert len(app.history(task_id)) == 1


@pytest.mark.parametrize("amount", ["1,5", "1_000", "1,50,000", "12,34.5", "１００", "1.5.0", "1e3", ".5", "5.",
                                    "-1,500.00", "- 5", "+5", "¥5", "5 元"])
def test_money_is_digits_with_two_decimals_and_grouped_thousands_only(app: Duban, task_id: int, amount: str) -> None:
    """Regression: '1,5' was recorded as 15.00 yuan (commas were dropped anywhere) and '1_000' was
    read as Python reads it; a slip in a figure of recovered funds must be refused, naming it."""
    with pytest.raises(InvalidInput) as refused:
        app.add_outcome("office", task_id, "funds", "x", amount=amount)
    assert repr(amount) in str(refused.value)
    assert app.get_task(task_id).outcomes == []
    assert len(app.history(task_id)) == 1


@pytest.mark.parametrize(("amount", "yuan"), [("1,500.00", "1500.00"), ("1,234,567.5", "1234567.50"), ("0", "0.00"),
                                              (" 240 ", "240.00"), ("999,999,999,999.99", "999999999999.99")])
def test_well_formed_money_is_kept_exactly(app: Duban, task_id: int, amount: str, yuan: str) -> None:
    assert app.add_outcome("office", task_id, "funds", "x", amount=amount).amount == Decimal(yuan)


def test_amount_only_on_funds_and_funds_need_one(app: Duban, task_id: int) -> None:
    with pytest.raises(InvalidInput, match="only outcomes of kind 'funds'"):
        app.add_outcome("office", task_id, "talk", "提醒谈话", amount="10")
    with pytest.raises(InvalidInput, match="an amount in yuan"):
        app.add_outcome("office", task_id, "funds", "清退")
    with pytest.raises(InvalidInput, match="outcome kind"):
        app.add_outcome("office", task_id, "bribe", "x")
    assert app.get_task(task_id).outcomes == []
    assert app.summary()["funds_recovered"] == "0.00"


def test_bug_amount_fen_overflowed_32bit_integer_on_postgresql(app: Duban, task_id: int) -> None:
    """Regression: outcomes.amount_fen was INTEGER, so PostgreSQL raised a driver DataError for any
    amount from 21,474,836.48 yuan up; it is BIGINT now."""
    out = app.add_outcome("office", task_id, "funds", "x", amount="21474836.48")
    assert app.get_task(task_id).outcomes[0].amount == out.amount == Decimal("21474836.48")
    assert app.summary()["funds_recovered"] == "21474836.48"
    app.verify()


@pytest.mark.parametrize("amount", ["1e30", "99999999999999999", "1000000000000"])
def test_bug_huge_amount_crashed_instead_of_being_refused(app: Duban, task_id: int, amount: str) -> None:
    """Regression: '1e30' escaped as decimal.InvalidOperation and '99999999999999999' as an
    OverflowError from the driver; both are refusals naming the amount now."""
    with pytest.raises(InvalidInput, match="amount"):
        app.add_outcome("office", task_id, "funds", "x", amount=amount)
    assert app.get_task(task_id).outcomes == []
    assert app.add_outcome("office", task_id, "funds", "max", amount="999999999999.99").amount == Decimal("999999999999.99")
