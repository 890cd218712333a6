"""In Chinese (the default) the commands people read most print no English word of our catalog:
every heading, label and sentence comes from the zh_CN translations. Names people type (commands,
options, states and events after 'task move', codes, paths) may stay ASCII."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import COMMANDS, cli
from engine import i18n

NOW = "2026-01-05"
# Task 16 has every kind of record (notes, evidence, outcomes, a flag, a phase); task 1 a look-back.
COMMANDS_READ = [
    ("task", "list"), ("summary",), ("campaign", "list"), ("problem", "list"), ("lookback", "list"),
    ("reminders", "list"), ("remind", "--dry-run"), ("report", "progress", "--explain"), ("evidence", "list", "1"),
    ("outcome", "list", "1"), ("task", "add", "x"), ("nosuch",), ("task", "show", "16"), ("history", "16"),
    ("task", "show", "1"), ("history", "1"), ("audit", "log", "--limit", "40"), ("task", "show", "abc"),
    # refusals: the engine's structured errors worded through the catalog
    ("task", "show", "999"), ("summary", "--campaign", "nope"), ("task", "move", "7", "fly"),
    ("task", "move", "7", "start"), ("--as", "ghost", "task", "note", "1", "x"), ("workflow", "show", "nope"),
    ("--as", "bangongshi", "task", "extend", "1", "--due", "2026-09-01", "--reason", "x"),
    ("--as", "bangongshi", "task", "note", "1", "x"),  # another unit's task: the visibility rule says why
    ("--as", "bangongshi", "campaign", "add", "X", "--inspector", "a", "--target", "b", "--feedback-date", "2025-01-01"),
]


def catalog_words() -> set[str]:
    """English words of our own messages (click's are checked by the usage-error tests)."""
    import gettext

    catalog = gettext.translation(i18n.DOMAIN, i18n.LOCALE_DIR, languages=["zh_CN"])
    words: set[str] = set()
    for msgid in catalog._catalog:  # noqa: SLF001 (stdlib's parsed .mo)
        text = msgid[0] if isinstance(msgid, tuple) else msgid
        text = text.split("\x04", 1)[-1]  # pgettext context
        text = re.sub(r"\{[^{}]*\}|`[^`]*`|--[a-z-]+|'duban [^']*'", " ", text)
        words.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", text))
    return words


def typed_names() -> set[str]:
    """What people type and may see as such: command and option names, workflow state/event names."""
    from engine.core.registry import registry_for

    from workflows.access import ROLES

    names = {"duban", "json", "sha", "pdf", "docx", "xlsx", "csv", "ics", "html", "toml", "url", "api"}
    names |= set(COMMANDS) | set(ROLES)  # roles are typed after --role
    for group in COMMANDS:
        command = cli.get_command(None, group)  # type: ignore[arg-type]
        names |= set(getattr(command, "commands", {}))  # sub-commands: task add, task show …
    for wf in (registry_for([]).get(n) for n in registry_for([]).names()):
        names |= set(wf.states) | set(wf.events) | {wf.name}  # typed after --workflow
    return names


@pytest.fixture
def chinese_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DUBAN_LANG", raising=False)
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "demo"], env={"DUBAN_NOW": NOW, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return db


def test_chinese_outputs_hold_no_english_word_of_the_catalog(chinese_demo: Path) -> None:
    english = catalog_words() - typed_names()
    assert {"overdue", "deadline", "flagged"} <= english  # the scan looks for real words
    leftovers: dict[str, set[str]] = {}
    for argv in COMMANDS_READ:
        result = CliRunner().invoke(cli, ["--db", str(chinese_demo), *argv],
                                    env={"DUBAN_NOW": NOW, "COLUMNS": "200"})
        text = re.sub(r"`[^`]*`|--[a-z-]+|\S+\.(?:db|toml|xlsx|zip)\b", " ", result.output)
        # ALL-CAPS words are metavars (TITLE, COMMAND, [OPTIONS]): what one types, named as click names it
        found = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text) if not w.isupper()} & english
        if found:
            leftovers[" ".join(argv)] = found
    assert leftovers == {}, json.dumps({k: sorted(v) for k, v in leftovers.items()}, ensure_ascii=False)


def test_json_keeps_machine_values_beside_the_labels(chinese_demo: Path) -> None:
    out = CliRunner().invoke(cli, ["--db", str(chinese_demo), "task", "show", "16", "--json"],
                             env={"DUBAN_NOW": NOW})
    data = json.loads(out.stdout)
    assert data["task"]["state"] in ("phased", "completed", "reviewed", "in_progress", "assigned")
    assert re.search("[\u4e00-\u9fff]", data["task"]["state_label"])


EMPTY_LISTS = [("task", "list"), ("campaign", "list"), ("problem", "list"), ("lookback", "list"),
               ("reminders", "list"), ("remind", "--dry-run")]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_empty_list_says_so_in_words(tmp_path: Path, lang: str) -> None:
    db = tmp_path / "empty.db"
    env = {"DUBAN_NOW": NOW}
    assert CliRunner().invoke(cli, ["--db", str(db), "init"], env=env).exit_code == 0
    for argv in EMPTY_LISTS:
        out = CliRunner().invoke(cli, ["--db", str(db), "--lang", lang, *argv], env=env)
        assert out.exit_code == 0, out.output
        assert ("暂无" if lang == "zh" else "No ") in out.stdout, (argv, out.stdout)
        assert "┏" not in out.stdout and "│" not in out.stdout, (argv, out.stdout)  # no empty table drawn


def test_refusals_are_worded_in_the_chosen_language(chinese_demo: Path) -> None:
    def refused(*argv: str, lang: str = "zh") -> str:
        result = CliRunner().invoke(cli, ["--db", str(chinese_demo), "--lang", lang, *argv], env={"DUBAN_NOW": NOW})
        assert result.exit_code == 1, result.output
        return result.stderr

    assert "错误：任务 999 不存在；编号可用 duban task list 查看" in refused("task", "show", "999")
    assert "巡察「nope」不存在；现有：" in refused("summary", "--campaign", "nope")
    assert "用户「ghost」未登记" in refused("--as", "ghost", "task", "note", "1", "x")
    assert "此状态下不能办理" in refused("task", "move", "7", "start")
    # a unit asks for an extension of its own tasks only (延期申请): another unit's is refused, saying why
    denied = refused("--as", "bangongshi", "task", "extend", "1", "--due", "2026-09-01", "--reason", "x")
    assert "任务 1 的延期申请被拒绝：只有任务责任单位「人代联工委」的用户可申请延期" in denied
    # a role the workflow does not allow: the roles it allows as people read them
    assert "流程只允许管理员、督查室" in refused("--as", "bangongshi", "task", "flag", "1")
    assert "任务属于「人代联工委」，该用户属于「办公室」" in refused("--as", "bangongshi", "task", "note", "1", "x")
    # the same refusal in English, from the same code and fields
    assert "task 999 not found; see 'duban task list' for their ids" in refused("task", "show", "999", lang="en")
    data = json.loads(CliRunner().invoke(cli, ["--db", str(chinese_demo), "task", "move", "7", "start", "--json"],
                                         env={"DUBAN_NOW": NOW}).stdout)
    assert data["error"] == "transition_not_allowed" and data["state"] == "completed"  # machine values stay


def test_workflow_show_speaks_the_chosen_language() -> None:
    """Its headings and words come from the catalog (workflows/ knows no language of its own)."""
    zh = CliRunner().invoke(cli, ["--lang", "zh", "workflow", "show", "rectification"]).stdout
    for word in ("初始状态：", "状态：", "事件：", "权限：", "角色：", "需填写：", "前提条件：", "[未结]", "[已结]"):
        assert word in zh, word
    for word in ("Initial state", "States:", "Events:", "Permissions:", "roles:", "requires:", "[open]"):
        assert word not in zh, word
    en = CliRunner().invoke(cli, ["--lang", "en", "workflow", "show", "rectification"]).stdout
    assert "Initial state: Assigned (assigned)" in en and "Permissions:" in en and "roles: admin" in en


def test_roles_show_as_words_in_user_list(tmp_path: Path) -> None:
    """user list shows each role by its label (督查室, 责任单位, 领导, 管理员), one table in
    workflows/access.py; --json keeps the machine value and adds the label beside it."""
    db = str(tmp_path / "roles.db")

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(cli, ["--db", db, "--as", "root", "--lang", "zh", *args])
        assert result.exit_code == 0, result.output
        return result

    run("init")
    run("user", "add", "li", "--role", "supervisor")
    run("user", "add", "caiwu", "--role", "unit", "--unit", "财务科")
    added = run("user", "add", "zhuren", "--role", "leader", "--unit", "办公室")
    assert "领导" in added.stdout and "leader" not in added.stdout
    listed = run("user", "list").stdout
    for word in ("督查室", "责任单位", "领导", "管理员"):
        assert word in listed
    for machine in ("supervisor", "leader", "admin", "Webhook"):  # headings too: 推送地址
        assert machine not in listed
    rows = {u["name"]: u for u in json.loads(run("user", "list", "--json").stdout)}
    assert rows["li"]["role"] == "supervisor" and rows["li"]["role_label"] == "督查室"
    assert rows["caiwu"]["role"] == "unit" and rows["caiwu"]["role_label"] == "责任单位"


def test_a_refusal_for_what_was_not_given_says_what_is_needed_in_the_chosen_language(tmp_path: Path) -> None:
    """Nothing named, nothing to call invalid: no "campaign None 无效" nor an English hint in Chinese."""
    db = str(tmp_path / "office.db")
    env = {"DUBAN_NOW": "2026-01-05T09:00:00"}

    def refused(*argv: str, lang: str = "zh") -> str:
        result = CliRunner().invoke(cli, ["--db", db, "--lang", lang, *argv], env=env)
        assert result.exit_code == 1, result.output
        assert "None" not in result.stderr, result.stderr
        return result.stderr

    assert CliRunner().invoke(cli, ["--db", db, "init"], env=env).exit_code == 0
    plan = ("lookback", "plan", "--sample", "30%", "--on", "2026-06-30")
    assert "错误：尚无巡察：可用 duban campaign add 添加" in refused(*plan)
    assert "Error: there is no campaign yet: add one with 'duban campaign add'" in refused(*plan, lang="en")
    for name in ("A", "B"):
        added = CliRunner().invoke(cli, ["--db", db, "campaign", "add", name, "--inspector", "组", "--target", "局",
                                         "--feedback-date", "2026-01-01"], env=env)
        assert added.exit_code == 0, added.output
    assert "错误：有多个巡察批次，请指明其一：A、B（--campaign NAME）" in refused(*plan)
    assert "there are several campaigns; name one of A, B (--campaign NAME)" in refused(*plan, lang="en")
    added = CliRunner().invoke(cli, ["--db", db, "task", "add", "关于…的建议", "--workflow", "suggestion",
                                     "--unit", "市教育局", "--field", "suggestion_no=2026-021", "--field", "lead_deputy=某代表"], env=env)
    assert added.exit_code == 0, added.output
    letter = refused("report", "letter", "1", "--kind", "remind", "-o", str(tmp_path / "letter.docx"))
    assert "错误：请写明发文机关，或在配置文件 [notice] issuer 中设置（--issuer）" in letter
    overview = refused("report", "overview", "--workflow", "suggestion", "--as-of", "2026-01-05", "-o", str(tmp_path / "overview.docx"))
    assert "请写明发文机关" in overview and "issuing body" not in overview and "（--issuer）" in overview


def test_an_export_says_what_it_wrote_in_a_whole_sentence(chinese_demo: Path, tmp_path: Path) -> None:
    def exported(name: str, lang: str = "zh") -> str:
        result = CliRunner().invoke(cli, ["--db", str(chinese_demo), "--lang", lang, "export", name.rsplit(".", 1)[1],
                                          "-o", str(tmp_path / name)], env={"DUBAN_NOW": NOW})
        assert result.exit_code == 0, result.output
        return result.stdout

    assert "（16 项任务）" in exported("台账.xlsx") and "任务数" not in exported("台账.csv")
    assert re.search(r"（\d+ 个日程）", exported("日程.ics"))
    assert "(16 tasks)" in exported("ledger.xlsx", lang="en")
