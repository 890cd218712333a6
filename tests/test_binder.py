"""The evidence binder (整改资料册): made from the ledger, checked against itself and the ledger."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.api import Duban
from engine.core.errors import VerificationFailed
from engine.ledger_io.binder import export_binder, verify_binder


def _with_evidence(app: Duban, task_id: int) -> None:
    app.add_evidence_bytes("office", task_id, "会议纪要.pdf", b"%PDF minutes of the meeting")
    app.add_note("office", task_id, "召开专题会议")
    app.add_outcome("office", task_id, "rule", "修订《政府采购管理制度》")


def _rewrite(src: Path, dest: Path, change: dict[str, bytes | None]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for item in zin.infolist():
            if item.filename in change:
                if change[item.filename] is not None:
                    zout.writestr(item.filename, change[item.filename])
                continue
            zout.writestr(item, zin.read(item.filename))
        for name, data in change.items():
            if name not in zin.namelist() and data is not None:
                zout.writestr(name, data)


def test_binder_holds_files_index_and_manifest_and_verifies(app: Duban, task_id: int, tmp_path: Path) -> None:
    _with_evidence(app, task_id)
    out = tmp_path / "binder.zip"
    result = export_binder(app, out)
    assert (result.tasks, result.files, result.missing) == (1, 1, [])
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        folder = manifest["tasks"][0]["folder"]
        page = z.read(f"{folder}/index.html").decode("utf-8")
    assert folder == "1-采购程序不规范"
    assert {"index.html", "manifest.json", f"{folder}/index.html", f"{folder}/1-会议纪要.pdf"} <= names
    sha = app.get_task(task_id).evidence[0].sha256
    assert manifest["files"][f"{folder}/1-会议纪要.pdf"] == sha
    assert sha in page and "召开专题会议" in page and "修订《政府采购管理制度》" in page and "佐证材料" in page
    # the history in the words of the workflow and the ledger, not its internal names, in Chinese only
    # (a document filed with the inspectors, whatever language the person exporting it reads)
    assert "交办" in page and "→ 已交办" in page and "进展记录" in page
    assert "Assign" not in page and "Progress note" not in page and "evidence" not in page
    report = verify_binder(app, out)
    assert report.files == 3 and report.tasks == 1


def test_a_tampered_added_or_removed_file_is_detected(app: Duban, task_id: int, tmp_path: Path) -> None:
    _with_evidence(app, task_id)
    out = tmp_path / "binder.zip"
    export_binder(app, out)
    evidence = "1-采购程序不规范/1-会议纪要.pdf"
    cases = {
        "changed": ({evidence: b"%PDF forged"}, f"binder file {evidence} was changed"),
        "added": ({"1-采购程序不规范/extra.pdf": b"x"}, "is not in the manifest"),
        "removed": ({evidence: None}, "listed in the manifest but missing"),
    }
    for name, (change, message) in cases.items():
        bad = tmp_path / f"{name}.zip"
        _rewrite(out, bad, change)
        with pytest.raises(VerificationFailed, match=message):
            verify_binder(app, bad)


def test_a_binder_whose_manifest_was_rewritten_to_match_is_caught_by_the_ledger(app: Duban, task_id: int,
                                                                                tmp_path: Path) -> None:
    import hashlib

    _with_evidence(app, task_id)
    out = tmp_path / "binder.zip"
    export_binder(app, out)
    evidence = "1-采购程序不规范/1-会议纪要.pdf"
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
    forged = b"%PDF forged"
    manifest["files"][evidence] = hashlib.sha256(forged).hexdigest()
    bad = tmp_path / "forged.zip"
    _rewrite(out, bad, {evidence: forged, "manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(VerificationFailed, match="is not the evidence the ledger recorded"):
        verify_binder(app, bad)


def test_cli_export_binder_and_audit_verify_binder(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    env = {"DUBAN_NOW": "2025-07-04", "DUBAN_EVIDENCE_DIR": str(tmp_path / "ev")}
    run = lambda *a: CliRunner().invoke(cli, ["--db", db, "--as", "root", *a], env=env)
    run("init")
    run("campaign", "add", "R1", "--inspector", "组", "--target", "局", "--feedback-date", "2025-07-03")
    run("problem", "add", "A1", "财经纪律")
    assert run("task", "add", "采购程序不规范", "--problem", "A1", "--leader", "甲", "--unit", "乙",
               "--due", "2025-09-30").exit_code == 0
    minutes = tmp_path / "m.txt"
    minutes.write_text("minutes")
    assert run("evidence", "add", "1", str(minutes)).exit_code == 0
    made = run("export", "binder", "-o", str(tmp_path / "b.zip"))
    assert made.exit_code == 0 and "1 evidence files" in made.output
    ok = run("audit", "verify", "--binder", str(tmp_path / "b.zip"))
    assert ok.exit_code == 0 and "binder OK" in ok.output and "trail OK" in ok.output
    _rewrite(tmp_path / "b.zip", tmp_path / "bad.zip", {"index.html": b"<p>edited</p>"})
    bad = run("audit", "verify", "--binder", str(tmp_path / "bad.zip"))
    assert bad.exit_code == 1 and "binder file index.html was changed" in bad.output


# ------------------------------------------------------------------ ordinary handling
def _rezip_with_zip_command(binder: Path, dest: Path, tmp_path: Path, *, encoding: str,
                            change: dict[str, bytes] | None = None) -> None:
    """Unpack and pack again with Info-ZIP's zip, file names stored as ``encoding`` bytes without the
    UTF-8 flag: what the zip command (UTF-8) or Chinese Windows' built-in zip (GBK) write."""
    import os
    import shutil
    import subprocess

    if shutil.which("zip") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install zip (see .ci/run)")
        pytest.skip("the zip command is not installed")
    root = tmp_path / f"unpacked-{encoding}"
    root.mkdir()
    with zipfile.ZipFile(binder) as z:
        for info in z.infolist():
            data = (change or {}).get(info.filename, z.read(info))
            target = os.path.join(bytes(root), *[part.encode(encoding) for part in info.filename.split("/")])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
    subprocess.run(["zip", "-qr", str(dest), "."], cwd=root, check=True, env={**os.environ, "LC_ALL": "C"})
    with zipfile.ZipFile(dest) as z:
        assert not any(i.flag_bits & 0x800 for i in z.infolist())  # really written without the flag


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_a_binder_rezipped_by_common_tools_still_verifies(app: Duban, task_id: int, tmp_path: Path,
                                                          encoding: str) -> None:
    _with_evidence(app, task_id)
    out = tmp_path / "binder.zip"
    export_binder(app, out)
    again = tmp_path / "again.zip"
    _rezip_with_zip_command(out, again, tmp_path, encoding=encoding)
    report = verify_binder(app, again)
    assert report.files == 3 and report.tasks == 1
    # a changed file is still named, in Chinese
    forged = tmp_path / "forged.zip"
    evidence = "1-采购程序不规范/1-会议纪要.pdf"
    (tmp_path / "f").mkdir()
    _rezip_with_zip_command(out, forged, tmp_path / "f", encoding=encoding, change={evidence: b"%PDF forged"})
    with pytest.raises(VerificationFailed, match=f"binder file {evidence} was changed"):
        verify_binder(app, forged)


def test_verification_errors_are_capped(app: Duban, task_id: int, tmp_path: Path) -> None:
    out = tmp_path / "binder.zip"
    export_binder(app, out)
    bad = tmp_path / "bad.zip"
    _rewrite(out, bad, {f"extra-{i}.txt": b"x" for i in range(60)})
    result = CliRunner().invoke(cli, ["--db", app.url, "audit", "verify", "--binder", str(bad)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert "(and 59 more)" in lines[0] and len(lines) <= 22
    assert lines[-1].strip() == "(and 40 more not shown)"


def test_the_binder_index_reads_as_a_clerk_files_it(app: Duban, task_id: int, tmp_path: Path) -> None:
    _with_evidence(app, task_id)
    app.add_note("lead", task_id, "主任督促")  # people appear by their names, not their logins
    for n in range(9):  # ten items: folders 01- … 10- sort in the ledger's order
        app.add_task("sup", f"事项{n}", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-31")
    out = tmp_path / "binder.zip"
    export_binder(app, out)
    with zipfile.ZipFile(out) as z:
        page = z.read("01-采购程序不规范/index.html").decode("utf-8")
        index = z.read("index.html").decode("utf-8")
        assert "10-事项8/index.html" in z.namelist()
    assert "办公室主任" in page and "<td>lead</td>" not in page
    assert "制度建设" in page and "<td>rule</td>" not in page  # outcome kinds labelled
    assert "→ 已交办" in page
    assert "已交办 → 已交办" not in page and " → </td>" not in page  # no empty moves
    assert "@media print" in page and "@page" in index
    import re

    assert re.search(r"生成时间 \d{4}-\d{2}-\d{2} \d{2}:\d{2} ·", index)  # local, to the minute
    assert "整改资料册" in index and "binder" not in index


def test_a_binder_shows_the_ledger_at_one_moment_while_others_write(app: Duban, task_id: int, db_url: str,
                                                                    tmp_path: Path) -> None:
    """Making a binder takes no write lock, so units go on reporting meanwhile: what they write after
    it began is in none of its pages, and its trail head is the one its pages agree with."""
    from tests.conftest import TEST_WORKFLOWS

    _with_evidence(app, task_id)
    version_before = app.get_task(task_id).task.version
    other = Duban(db_url, clock=app.clock, settings=app.settings, workflow_dirs=[TEST_WORKFLOWS],
                  blob_root=tmp_path / "evidence")
    wrote: list[bool] = []

    def meanwhile(done: int, total: int) -> None:
        if not wrote:  # once, after the binder has begun reading
            other.add_note("office", task_id, "制作资料册期间补报的进展")
            other.fire("office", task_id, "start")
            wrote.append(True)

    out = tmp_path / "binder.zip"
    export_binder(app, out, progress=meanwhile)
    assert wrote and app.get_task(task_id).task.version > version_before  # the writes landed
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        page = z.read(f"{manifest['tasks'][0]['folder']}/index.html").decode("utf-8")
        index = z.read("index.html").decode("utf-8")
    assert "制作资料册期间补报的进展" not in page and "已交办" in index and "整改中" not in index
    assert manifest["trail_head"]["count"] < app.verify().records  # the head from before the writes
    verify_binder(app, out)
