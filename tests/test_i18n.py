"""Chinese first: the language comes from --lang, else DUBAN_LANG, else the config file's
[general] lang, else the locale, else Chinese; click's own usage errors and the help follow it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from engine import i18n

LOCALE_VARS = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No language chosen anywhere: no DUBAN_LANG, no locale; returns the config file's path (not written)."""
    monkeypatch.delenv("DUBAN_LANG", raising=False)
    for var in LOCALE_VARS:
        monkeypatch.delenv(var, raising=False)
    from engine.core.config import default_config_path

    config = default_config_path()  # in the test's own XDG_CONFIG_HOME (conftest)
    config.parent.mkdir(parents=True, exist_ok=True)
    return config


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or {})


def lang_shown(env: dict[str, str] | None = None, *args: str) -> tuple[str, str]:
    result = run(*args, "config", "show", "--json", env=env)
    assert result.exit_code == 0, result.output
    general = json.loads(result.stdout)["general"]
    return general["lang"], general["lang_source"]


def test_with_no_language_set_duban_speaks_chinese(bare: Path) -> None:
    assert lang_shown() == ("zh", "default")
    usage = run("task", "add", "采购程序不规范")
    assert usage.exit_code == 2
    assert "缺少选项" in usage.output and "Missing option" not in usage.output
    assert "没有命令" in run("nosuch").output
    listing = run("--help").output
    assert "命令：" in listing and "交办、列出、查看和办理任务" in listing
    assert "Commands" not in listing and "Assign, list" not in listing


@pytest.mark.parametrize("source", ["--lang", "DUBAN_LANG", "config", "locale"])
def test_each_source_chooses_the_language(bare: Path, source: str) -> None:
    for lang in ("en", "zh"):
        env: dict[str, str] = {}
        args: list[str] = []
        if source == "--lang":
            args = ["--lang", lang]
        elif source == "DUBAN_LANG":
            env["DUBAN_LANG"] = lang
        elif source == "config":
            bare.write_text(f'[general]\nlang = "{lang}"\n', encoding="utf-8")
        else:
            env["LANG"] = {"en": "en_US.UTF-8", "zh": "zh_CN.UTF-8"}[lang]
        chosen, why = lang_shown(env, *args)
        assert chosen == lang
        assert why.startswith({"--lang": "--lang", "DUBAN_LANG": "DUBAN_LANG", "config": "config",
                               "locale": "locale LANG"}[source])
        usage = run(*args, "task", "add", "x", env=env).output
        assert ("Missing option" in usage) == (lang == "en")
        assert ("缺少选项" in usage) == (lang == "zh")


def test_the_sources_rank_flag_env_config_locale(bare: Path) -> None:
    bare.write_text('[general]\nlang = "en"\n', encoding="utf-8")
    assert lang_shown({"DUBAN_LANG": "zh", "LC_ALL": "en_US.UTF-8"}, "--lang", "en")[0] == "en"
    assert lang_shown({"DUBAN_LANG": "zh", "LC_ALL": "en_US.UTF-8"})[0] == "zh"
    assert lang_shown({"LC_ALL": "zh_CN.UTF-8"})[0] == "en"  # the config file beats the locale
    bare.unlink()
    # LC_ALL beats LANG; a locale naming no language of ours (C, fr_FR) leaves Chinese
    assert lang_shown({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}) == ("en", "locale LC_ALL=en_GB.UTF-8")
    assert lang_shown({"LANG": "fr_FR.UTF-8"}) == ("zh", "default")
    assert lang_shown({"LC_ALL": "C", "LANG": "en_US.UTF-8"}) == ("zh", "default")


def test_a_bad_language_is_refused_naming_where_it_came_from(bare: Path) -> None:
    result = run("config", "show", env={"DUBAN_LANG": "fr"})
    assert result.exit_code == 2
    assert "DUBAN_LANG" in result.output and "「fr」" in result.output and "不支持的语言" in result.output
    bare.write_text('[general]\nlang = "klingon"\n', encoding="utf-8")
    result = run("--lang", "en", "config", "show")
    assert result.exit_code == 1 and "general.lang" in result.output and "Traceback" not in result.output
    assert run("--lang", "fr", "config", "show").exit_code == 2


def test_the_language_is_per_context_not_global() -> None:
    """A web front sets the language per request: one context's choice does not leak into another."""
    import contextvars

    with i18n.language("zh"):
        inner = contextvars.copy_context()
        assert i18n.gettext("Missing option") == "缺少选项"
        with i18n.language("en"):
            assert i18n.gettext("Missing option") == "Missing option"
            assert inner.run(i18n.gettext, "Missing option") == "缺少选项"
        assert i18n.gettext("Missing option") == "缺少选项"


def test_lazy_strings_are_translated_when_shown() -> None:
    from engine.core.ledger import ACTION_LABELS

    with i18n.language("zh"):
        assert str(ACTION_LABELS["extend"]) == "延期"
        assert f"{ACTION_LABELS['evidence']}" == "佐证材料"
    with i18n.language("en"):
        assert str(ACTION_LABELS["extend"]) == "Extend deadline"


@pytest.mark.parametrize("value,expected", [("zh", "zh"), ("zh_CN.UTF-8", "zh"), ("zh-Hans", "zh"), ("EN", "en"),
                                            ("en_GB", "en"), ("C", None), ("fr_FR", None), ("", None)])
def test_language_names_are_normalised(value: str, expected: str | None) -> None:
    assert i18n.normalize(value) == expected


def test_chinese_usage_errors_use_full_width_punctuation() -> None:
    """click writes "Missing option '--problem'." whatever the language; Chinese gets 「」 and 。."""
    missing = run("--lang", "zh", "task", "add", "x")
    assert missing.exit_code == 2
    import re

    assert re.search("错误：缺少选项「--[a-z]+」。$", missing.stderr.splitlines()[-1]), missing.stderr
    assert "'" not in missing.stderr.splitlines()[-1]
    unknown = run("--lang", "zh", "nosuch")
    assert "没有命令「nosuch」。" in unknown.stderr
    not_an_id = run("--lang", "zh", "task", "show", "abc")
    assert not_an_id.exit_code == 2 and "「abc」不是编号" in not_an_id.stderr and "integer" not in not_an_id.stderr
    english = run("--lang", "en", "task", "add", "x")
    assert re.search(r"Missing option '--[a-z]+'\.", english.stderr)  # English keeps click's own punctuation


def test_chinese_help_wraps_by_display_width() -> None:
    """click measures characters and breaks only at spaces: a Chinese help line ran twice the width.
    (click's test runner lays help out in 80 columns.)"""
    from cli.cells import cells

    for args in (["--help"], ["task", "add", "--help"], ["report", "notice", "--help"], ["export", "--help"]):
        result = run("--lang", "zh", *args)
        assert result.exit_code == 0, result.output
        assert [line for line in result.stdout.splitlines() if cells(line) > 80] == []
    lines = run("--lang", "zh", "task", "add", "--help").stdout.splitlines()
    due = next(i for i, line in enumerate(lines) if line.lstrip().startswith("--due"))
    # the --due help goes on under its own column, and its "[必填]" stays whole
    assert lines[due + 1].startswith(" " * 10) and not lines[due + 1].lstrip().startswith("--")
    assert "[必填]" in "\n".join(lines) and "required" not in "\n".join(lines)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cron_remind_speaks_the_configured_language(tmp_path: Path, lang: str) -> None:
    """A crontab line runs 'duban remind' with no --lang, no DUBAN_LANG and the C locale: the
    config file's [general] lang decides what the reminders say."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    outbox = tmp_path / "outbox.jsonl"
    config = tmp_path / "duban.toml"
    config.write_text(f'[general]\nlang = "{lang}"\n\n[channels.file]\npath = "{outbox}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "LC_", "LANG"))}
    env.update(LANG="C", DUBAN_CONFIG=str(config), PYTHONPATH=str(root), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    db = str(tmp_path / "ledger.db")

    def duban(*args: str, now: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli", "--db", db, *args], env={**env, "DUBAN_NOW": now},
                              cwd=root, capture_output=True, text=True, timeout=300)

    assert duban("demo", now="2025-12-20").returncode == 0
    sweep = duban("remind", now="2026-02-10T09:00")
    assert sweep.returncode == 0, sweep.stderr
    messages = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert messages
    for message in messages:
        if lang == "zh":
            assert message["subject"].startswith("【督办提醒】") and "waiting" not in message["text"]
        else:
            assert message["subject"].startswith("[duban]") and "督办提醒" not in message["text"]
    assert ("已发送" in sweep.stdout) == (lang == "zh")  # the sweep's own report too


def test_an_apostrophe_inside_a_word_is_no_quote_in_chinese_messages() -> None:
    from cli.translation import fullwidth

    # a name in quotes becomes 「name」; the apostrophe of an English word left in the message does not
    assert (fullwidth("错误：用户 'li' 不能：the task's unit is '财务科'")
            == "错误：用户「li」不能：the task's unit is「财务科」")  # no half-width space beside 「」
    assert fullwidth("任务属于 '财务科'，用户属于 \"办公室\"") == "任务属于「财务科」，用户属于「办公室」"


@pytest.mark.parametrize("xdg", [None, "", "/srv/office/config", "relative/config"])
def test_config_path_is_platformdirs_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: str | None) -> None:
    """The config file is looked up where platformdirs says, though Linux reads the XDG rule itself
    (platformdirs' import would cost every command ~7 ms): a user's file is found either way."""
    from platformdirs import user_config_dir

    from engine.core.config import default_config_path

    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert default_config_path() == Path(user_config_dir("duban", appauthor=False)) / "config.toml"
