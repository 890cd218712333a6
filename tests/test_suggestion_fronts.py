"""A workflow without campaigns on the other fronts: the web pages of a suggestion, its moves with
the inputs the workflow declares (a reply's class and text, the deputy's satisfaction) given in the
page's forms, the dashboard and queue; letters that speak of a suggestion in its own words; the
scores of the units that handle suggestions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine import accounts
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.demo import load_demo

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from web.app import create_app  # noqa: E402

PASSWORD = "office-password-1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOW = "2026-05-15T09:00:00"


@pytest.fixture()
def ledger(db_url: str, tmp_path: Path) -> Duban:
    load_demo(db_url, "admin", case_name="suggestions", blob_root=tmp_path / "evidence")
    app = Duban(db_url, clock=FixedClock(NOW), settings=Settings(), blob_root=tmp_path / "evidence")
    for name in ("admin", "jianyiban", "jiaoyu", "zhujian"):
        accounts.set_password(app, "admin", name, PASSWORD)
    return app


class Browser:
    def __init__(self, app: Duban, name: str) -> None:
        self.client = TestClient(create_app(duban=app), follow_redirects=False)
        self.csrf = ""
        self.get("/login")
        assert self.client.post("/login", data={"username": name, "password": PASSWORD,
                                                "csrf_token": self.csrf}).status_code == 303
        self.client.get("/lang/zh")  # the pages in Chinese, as an office reads them

    def get(self, path: str):  # type: ignore[no-untyped-def]
        response = self.client.get(path)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
        return self.client.post(path, data={"csrf_token": self.csrf, **data})


def suggestion(app: Duban, state: str, unit: str) -> int:
    return next(t.id for t in app.list_tasks(workflow="suggestion", states=[state], unit=unit))


def test_a_suggestion_is_worked_through_the_web_with_its_declared_inputs(ledger: Duban) -> None:
    unit = Browser(ledger, "zhujian")
    tid = suggestion(ledger, "handling", "市住房和城乡建设局")
    page = unit.get(f"/tasks/{tid}")
    assert page.status_code == 200
    assert "建议编号" in page.text and "领衔代表" in page.text  # the declared fields, by their labels
    assert "责任领导" not in page.text and "leader" not in page.text.lower().split("<main")[-1]
    # the reply's form asks for its class (a choice) and its text
    assert '<select name="reply_class"' in page.text and 'name="reply_text"' in page.text
    assert "B类（正在解决或列入计划解决）" in page.text
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    missing = unit.post(f"/tasks/{tid}/event-reply", {"version": version, "reply_class": "B"})
    assert missing.status_code == 422 and "答复内容" in missing.text and "Traceback" not in missing.text
    done = unit.post(f"/tasks/{tid}/event-reply", {"version": version, "reply_class": "B",
                                                   "reply_text": "已列入2026年建设计划，年内开工。"})
    assert done.status_code == 303, done.text
    replied = ledger.get_task(tid).task
    assert replied.state == "replied" and replied.fields["reply_class"] == "B"
    # the supervisor concludes it: the form offers only the satisfaction values the event accepts
    office = Browser(ledger, "jianyiban")
    page = office.get(f"/tasks/{tid}")
    conclude = page.text.split('action="/tasks/%d/event-conclude"' % tid)[1].split("</form>")[0]
    assert "基本满意" in conclude and "不满意" not in conclude
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    assert office.post(f"/tasks/{tid}/event-conclude", {"version": version,
                                                        "satisfaction": "basically_satisfied"}).status_code == 303
    assert ledger.get_task(tid).task.fields["satisfaction"] == "basically_satisfied"
    for path in ("/inbox", "/queue", "/dashboard", "/items", f"/tasks/{tid}"):
        shown = office.get(path)
        assert shown.status_code == 200, (path, shown.text[-2000:])
    assert CliRunner().invoke(cli, ["--db", ledger.url, "audit", "verify"]).exit_code == 0


def test_the_api_takes_a_moves_declared_inputs(ledger: Duban) -> None:
    tid = suggestion(ledger, "handling", "市住房和城乡建设局")
    auth = {"Authorization": f"Bearer {accounts.new_token(ledger, 'admin', 'zhujian').token}"}
    client = TestClient(create_app(duban=ledger))
    version = client.get(f"/api/v1/tasks/{tid}", headers=auth).json()["task"]["version"]
    bad = client.post(f"/api/v1/tasks/{tid}/events/reply", headers=auth,
                      json={"version": version, "inputs": {"reply_class": "D", "reply_text": "已办"}})
    assert bad.status_code == 422 and bad.json()["value"] == "D"
    done = client.post(f"/api/v1/tasks/{tid}/events/reply", headers=auth,
                       json={"version": version, "inputs": {"reply_class": "A类（已解决或基本解决）", "reply_text": "已办"}})
    assert done.status_code == 200, done.text
    assert done.json()["task"]["fields"]["reply_class"] == "A" and done.json()["task"]["state"] == "replied"


def test_letters_speak_of_a_suggestion_in_its_own_words(ledger: Duban, tmp_path: Path) -> None:
    import docx

    tid = suggestion(ledger, "assigned", "市住房和城乡建设局")
    env = {"DUBAN_NOW": NOW}
    out = tmp_path / "letter.docx"
    args = ["--db", ledger.url, "--as", "admin", "--lang", "zh", "report", "letter", str(tid), "--kind", "remind",
            "-o", str(out)]
    no_issuer = CliRunner().invoke(cli, args, env=env)
    assert no_issuer.exit_code == 1 and "发文机关" in no_issuer.output and "Traceback" not in no_issuer.output
    made = CliRunner().invoke(cli, [*args, "--issuer", "市人大常委会选举任免联络工作委员会"], env=env)
    assert made.exit_code == 0, made.output
    text = "\n".join(p.text for p in docx.Document(str(out)).paragraphs)
    # the deadline by the word its ledger and reminders use ([ledger] labels.deadline), not a second one
    assert "代表建议" in text and "办理时限" in text and "答复期限" not in text and "整改" not in text
    closed = suggestion(ledger, "concluded", "市教育局")
    refused = CliRunner().invoke(cli, [*args[:8], str(closed), *args[9:], "--issuer", "某机关"], env=env)
    assert refused.exit_code == 1 and "已办结" in refused.output and "letters chase" not in refused.output


def test_scores_rank_the_units_that_handle_suggestions(ledger: Duban) -> None:
    result = CliRunner().invoke(cli, ["--db", ledger.url, "--lang", "zh", "report", "scores", "--json"],
                                env={"DUBAN_NOW": NOW})
    assert result.exit_code == 0, result.output
    assert "市教育局" in result.stdout and "Traceback" not in result.output


def test_the_web_names_a_suggestions_deadline_in_its_own_word(ledger: Duban) -> None:
    """Issue 11: the task page and the unit's inbox say 办理时限 beside a suggestion's deadline, as its
    ledger, reminders and letters do, not the generic 时限."""
    unit = Browser(ledger, "zhujian")
    tid = suggestion(ledger, "handling", "市住房和城乡建设局")
    page = unit.get(f"/tasks/{tid}").text
    assert re.search(r"· 办理时限 \d{4}-\d{2}-\d{2}", page)
    inbox = unit.get("/inbox").text
    assert re.search(r"· 办理时限 \d{4}-\d{2}-\d{2}", inbox) and "整改时限" not in inbox
