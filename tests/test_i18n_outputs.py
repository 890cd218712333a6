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
    # the scoring rules under the ranking, and refusals of the look-back commands (engine/supervision)
    ("report", "scores"), ("report", "progress"), ("lookback", "plan", "--sample", "30", "--on", "2025-01-01"),
    ("lookback", "record", "1", "--pass", "--note", "x"), ("reminders", "list", "--limit", "0"),
    ("report", "progress", "--by", "nope"),
    # refusals of money, dates and files (engine/core/money.py, reports/progress.py, ledger_io/)
    ("--as", "bangongshi", "outcome", "add", "16", "--kind", "funds", "--amount", "1,5", "--text", "x"),
    ("--as", "bangongshi", "outcome", "add", "16", "--kind", "funds", "--amount", "-5", "--text", "x"),
    ("report", "progress", "--as-of", "2030-01-01"),
    # click names the kind of path it refused in English ("File '…' does not exist"): the path says enough
    ("--as", "bangongshi", "evidence", "add", "16", "/nonexistent/会议纪要.pdf"),
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


# Config files a clerk may get wrong, and a command that reads each: every refusal is worded through the
# catalog (engine/core/config.py, engine/supervision/settings.py, channels.py, robots.py).
BAD_CONFIGS = [
    ('[quiet]\nhours = "x"\n', ("remind", "--dry-run"), "发送提醒的本地时段"),
    ('[quiet]\nsilent = true\n', ("remind", "--dry-run"), "未知的键"),
    ('[delivery]\nmax_attempts = 0\n', ("config", "show"), "不小于 1 的整数"),
    ('[delivery]\nlease = "soon"\n', ("config", "show"), "应为时长"),
    ('[digest]\ntime = "noon"\n', ("config", "show"), "本地时间"),
    ('[channels.email]\nport = 25\n', ("config", "show"), "SMTP 服务器的主机名"),
    ('[channels.email]\nhost = "smtp.example.org"\npassword = "x"\n', ("config", "show"), "配置文件中不保存密码"),
    ('[channels.pigeon]\n', ("config", "show"), "未知的渠道"),
    ('[channels.robots.ops]\nkind = "wecom"\n', ("config", "show"), "Webhook 地址"),
    ('[channels.robots.ops]\nkind = "wecom"\nurl = "ftp://x"\n', ("config", "show"), "http:// 或 https://"),
    ('[channels.robots.ops]\nkind = "wecom"\nurl = "https://x"\nper_minute = 0\n', ("config", "show"), "不小于 1"),
    ('[[routes]]\nto = ["nope"]\n', ("config", "show"), "未配置该渠道"),
    ('[general]\ntimezone = "Mars/Olympus"\n', ("summary",), "IANA 时区名"),
    ('[calendar]\nholidays = ["someday"]\n', ("summary",), "应为日期"),
    ('[evidence]\nmax_mb = -1\n', ("config", "show"), "单位 MB"),
    ("x =\n", ("summary",), "不是有效的 TOML（第 1 行"),
]


CONFIG_NAMES = {"days", "hours", "overdue", "true", "false", "hold", "send", "unit", "role", "kind", "console", "file",
                "email", "webhook", "robots", "name", "secret", "secret_env", "password_env", "smtp", "iana", "utf"}


HALF_WIDTH_SPACE_AT_FULL_WIDTH = r"\S[ \t]+[「『（《，。：；？！、]|[」』）》，。：；？！、][ \t]+\S"


def test_english_refusals_keep_their_spaces_and_quotes(chinese_demo: Path, tmp_path: Path) -> None:
    config = tmp_path / "duban.toml"
    config.write_text('[quiet]\nhours = "x"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(chinese_demo), "--lang", "en", "remind", "--dry-run"],
                                env={"DUBAN_NOW": NOW, "DUBAN_CONFIG": str(config), "COLUMNS": "200"})
    assert result.exit_code == 1 and f"quiet.hours in {config} 'x': " in result.stderr, result.stderr


@pytest.mark.parametrize(("text", "argv", "words"), BAD_CONFIGS)
def test_a_wrong_config_file_is_refused_in_chinese(chinese_demo: Path, tmp_path: Path, text: str,
                                                   argv: tuple[str, ...], words: str) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(chinese_demo), *argv],
                                env={"DUBAN_NOW": NOW, "DUBAN_CONFIG": str(config), "COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert words in result.stderr and "配置" in result.stderr, result.stderr
    # full-width punctuation takes no half-width space before or after it, even beside an ASCII name
    # ("quiet.hours「x」无效", not "quiet.hours 「x」无效")
    assert not re.search(HALF_WIDTH_SPACE_AT_FULL_WIDTH, result.stderr), result.stderr
    # the file and the key (as one types it in the file) may stay ASCII; no English sentence around them
    shown = re.sub(r"\S+\.toml\b|[A-Za-z_]+(?:\.[A-Za-z_\[\]0-9]+)+|\w+_\w+|\S*/\S*|'[^']*'|「[^」]*」", " ",
                   result.stderr)
    # the keys and values one types in a config file (days, hours, overdue; true, hold) are names too
    typed = typed_names() | CONFIG_NAMES | {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)}
    english = catalog_words() - typed
    found = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", shown) if not w.isupper()}  # YYYY-MM-DD: a format
    assert found & english == set(), result.stderr


def test_a_missing_config_file_and_the_evidence_store_are_named_in_chinese(chinese_demo: Path, tmp_path: Path) -> None:
    gone = CliRunner().invoke(cli, ["--db", str(chinese_demo), "summary"],
                              env={"DUBAN_NOW": NOW, "DUBAN_CONFIG": str(tmp_path / "nope.toml")})
    assert gone.exit_code == 1 and "错误：配置文件「" in gone.stderr and "」无效：文件不存在" in gone.stderr
    from engine.core.errors import NotFound, Phrase
    from engine.i18n import N_, language

    with language("zh"):  # the hint engine/workspace.py gives for a file outside the evidence store
        assert str(NotFound("evidence file", "a.pdf", Phrase(N_("it is not in the evidence store")))) == \
            "佐证文件 'a.pdf' 不存在；它不在佐证材料库中"


def test_invalid_input_names_what_it_refuses_in_the_chosen_language(chinese_demo: Path) -> None:
    """InvalidInput's ``what`` (role, look-back date …) is worded too; --json keeps the English name."""
    def run(*argv: str, lang: str = "zh"):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, ["--db", str(chinese_demo), "--lang", lang, *argv], env={"DUBAN_NOW": NOW})

    assert "错误：角色「boss」无效" in run("user", "add", "x", "--role", "boss").stderr
    late = run("lookback", "plan", "--sample", "30", "--on", "2025-01-01").stderr
    assert "错误：回头看日期「2025-01-01」无效：不能早于今天（2026-01-05）" in late
    assert "invalid look-back date '2025-01-01': must not be before today (2026-01-05)" in run(
        "lookback", "plan", "--sample", "30", "--on", "2025-01-01", lang="en").stderr
    early = run("lookback", "record", "1", "--pass", "--note", "x").stderr
    assert "应于 2026-03-25 回头看；请在当天或之后登记（今天是 2026-01-05）" in early
    binder = run("audit", "verify", "--binder", str(chinese_demo)).stderr  # the ledger itself: no zip
    assert "错误：归档包「" in binder and "」无效：应为“duban export binder”生成的 zip 文件" in binder
    clock = CliRunner().invoke(cli, ["--db", str(chinese_demo), "summary"], env={"DUBAN_NOW": "someday"}).stderr
    assert "环境变量 DUBAN_NOW「someday」无效：应为存在的 ISO 日期" in clock, clock
    assert "台账文件「" in run("import", str(chinese_demo)).stderr  # the ledger itself: no xlsx, csv or json
    assert "」无效：应为 .xlsx、.csv 或 .json 文件" in run("import", str(chinese_demo)).stderr
    data = json.loads(run("lookback", "plan", "--sample", "30", "--on", "2025-01-01", "--json").stdout)
    assert data["error"] == "invalid_input" and data["what"] == "look-back date"


def test_the_scoring_rules_are_named_in_words(chinese_demo: Path) -> None:
    shown = CliRunner().invoke(cli, ["--db", str(chinese_demo), "report", "scores"], env={"DUBAN_NOW": NOW})
    rules = shown.stdout.strip().splitlines()[-1]
    assert rules.startswith("规则：基本（预设方案）；基础分100；计分：按期办结 +1、逾期办结 -1、退回 -2、回头看反弹 -2"), rules
    assert not re.search("[A-Za-z]", rules), rules
    english = CliRunner().invoke(cli, ["--db", str(chinese_demo), "--lang", "en", "report", "scores"],
                                 env={"DUBAN_NOW": NOW}).stdout
    assert "Rules: simple (preset); base 100; points: done on time +1, done late -1" in english
    data = json.loads(CliRunner().invoke(cli, ["--db", str(chinese_demo), "report", "scores", "--json"],
                                         env={"DUBAN_NOW": NOW}).stdout)
    assert data["rules"]["preset"] == "simple" and data["rules"]["source"] == "preset"  # machine values stay
    assert set(data["rules"]["points"]) >= {"on_time", "late"}


def test_an_escalation_is_called_the_same_in_its_rule_and_its_message(chinese_demo: Path) -> None:
    """The rule column said 提级至督查室 while the message said 已提级督办至督查人员: one wording, the
    office's name (督查室, DOMAIN.md), in the rule (whole, not cut) and the message alike; in English too."""
    from datetime import date

    from cli.remind import RULE_LABELS
    from engine.i18n import language
    from engine.supervision.messages import what_is_due

    out = CliRunner().invoke(cli, ["--db", str(chinese_demo), "remind", "--dry-run"],
                             env={"DUBAN_NOW": "2026-03-25", "COLUMNS": "250"}).stdout
    for label in ("提级督办至责任领导", "提级督办至督查室"):
        rows = [line for line in out.splitlines() if label in line]
        assert rows and all(line.count(label) == 2 for line in rows), out  # the rule, then the message
    assert "督查人员" not in out
    for lang in ("zh", "en"):
        for rule in ("escalate_leader", "escalate_supervisors"):
            with language(lang):
                label = str(RULE_LABELS[rule])
            assert label in what_is_due(lang, rule, "due", date(2026, 1, 31), date(2026, 3, 25)), (lang, label)


def test_a_dry_run_names_its_recipients_and_channels_in_words(chinese_demo: Path) -> None:
    """Escalations go to an audience (leader:…, supervisors) and the console: both in Chinese."""
    out = CliRunner().invoke(cli, ["--db", str(chinese_demo), "remind", "--dry-run"],
                             env={"DUBAN_NOW": "2026-03-25", "COLUMNS": "200"}).stdout
    rows = [line for line in out.splitlines() if "提级督办至责任领导" in line]
    assert rows and all("领导：常" in row for row in rows), out  # 领导：常委会党组成员… (cut to its column)
    assert "leader:" not in out and "console" not in out and "控制台" in out
    assert "已逾期 53 天" in out and "超期" not in out  # one word for overdue
    looks = [line for line in out.splitlines() if "  回头看  " in line]
    assert looks and all(line.endswith("今天回头看") for line in looks), looks  # not 今天到期: no deadline falls
    data = json.loads(CliRunner().invoke(cli, ["--db", str(chinese_demo), "remind", "--dry-run", "--json"],
                                         env={"DUBAN_NOW": "2026-03-25"}).stdout)
    assert any(r["recipient"].startswith("leader:") for r in data["reminders"])  # the machine value stays
    assert {r["channel"] for r in data["reminders"]} == {"console"}


def test_summary_and_progress_say_overdue_and_money_alike(chinese_demo: Path) -> None:
    def run(*argv: str) -> str:
        result = CliRunner().invoke(cli, ["--db", str(chinese_demo), *argv], env={"DUBAN_NOW": NOW, "COLUMNS": "120"})
        assert result.exit_code == 0, result.output
        return result.stdout

    for text in (run("summary"), run("report", "progress"), run("report", "progress", "--explain")):
        assert "逾期" in text and "超期" not in text
        assert re.search(r"清退资金（元）[\s│]+240\.00\b", text), text


@pytest.fixture
def suggestions_demo(tmp_path: Path) -> Path:
    db = tmp_path / "suggestions.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "demo", "--case", "suggestions"],
                                env={"DUBAN_NOW": "2026-05-15", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return db


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_task_show_labels_a_records_fields_as_the_workflow_names_them(suggestions_demo: Path, lang: str) -> None:
    """Task 7 was made with fields and moved with reply_class, satisfaction and a new deadline: each
    shows by the label its workflow declares, never as a Python dict or a field's name."""
    for argv in (("task", "show", "7"), ("history", "7")):
        out = CliRunner().invoke(cli, ["--db", str(suggestions_demo), "--lang", lang, *argv],
                                 env={"DUBAN_NOW": "2026-05-15", "COLUMNS": "200"}).stdout
        out = re.sub(r"\n\s+", "", out)  # a record's inputs wrapped onto several lines: read as one
        assert "{'" not in out and "': '" not in out, out
        for name in ("reply_class", "reply_text", "satisfaction", "dissatisfied", "lead_deputy", "suggestion_no"):
            assert name not in out, (name, out)
        if lang == "zh":
            for pair in ("领衔代表：罗某明", "建议编号：2026-007", "答复类别：C类", "代表满意度：不满意",
                         "办理时限：2026-04-30", "原办理时限：2026-05-06"):
                assert pair in out, (pair, out)
            assert "整改时限" not in out  # the suggestion workflow's deadline is 办理时限
        else:
            assert "Lead deputy: 罗某明" in out and "Deputy's opinion: Dissatisfied" in out
    # the whole trail too: each record labelled by its own task's workflow
    log = CliRunner().invoke(cli, ["--db", str(suggestions_demo), "--lang", lang, "audit", "log"],
                             env={"DUBAN_NOW": "2026-05-15", "COLUMNS": "200"}).stdout
    for name in ("reply_class", "reply_text", "satisfaction", "lead_deputy", "suggestion_no", "{'"):
        assert name not in log, name


def test_the_dashboard_is_titled_by_the_ledgers_workflow(chinese_demo: Path, suggestions_demo: Path,
                                                         tmp_path: Path) -> None:
    titles = {}
    for name, db, now in (("inspection", chinese_demo, NOW), ("suggestions", suggestions_demo, "2026-01-05")):
        out = tmp_path / f"{name}.html"
        result = CliRunner().invoke(cli, ["--db", str(db), "report", "html", "-o", str(out)], env={"DUBAN_NOW": now})
        assert result.exit_code == 0, result.output
        titles[name] = re.search(r"<h1>([^<]*)</h1>", out.read_text(encoding="utf-8")).group(1)  # type: ignore[union-attr]
    # a board drawn before the first suggestion was assigned is still the suggestions' board
    assert titles == {"inspection": "巡察整改看板", "suggestions": "人大代表建议办理看板"}
