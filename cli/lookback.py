"""``duban lookback``: look-back reviews (回头看) of finished items: plan a sample, list, record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cli.common import (
    DATE, DEADLINE, ROW_ID, Context, domain_errors,
    echo, echo_json, json_option, pass_ctx, t,
)

if TYPE_CHECKING:
    from datetime import date

    from engine.api import Duban
    from engine.core.views import LookbackView


class PercentType(click.ParamType):
    """``30%`` or ``30``: a whole percentage from 1 to 100; anything else is a usage error (exit 2)."""

    name = "N%"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().removesuffix("%").strip()
            if not text.isdigit():
                self.fail(f"invalid sample {value!r}: expected a whole percentage such as 30% or 30", param, ctx)
            number = int(text)
        if not 1 <= number <= 100:
            self.fail(f"invalid sample {value!r}: expected a percentage from 1 to 100 (e.g. 30%)", param, ctx)
        return number


PERCENT = PercentType()


@click.group()
def lookback() -> None:
    """Look-back reviews (回头看): re-check finished items so that problems do not come back."""


@lookback.command("plan")
@click.option("--campaign", metavar="NAME", help="The campaign to sample (default: the only one).")
@click.option("--sample", "percent", required=True, type=PERCENT,
              help="How much of each problem's finished items to re-check: 30% or 30 (1–100).")
@click.option("--on", "on", required=True, type=DATE, help="The day of the look-back.")
@click.option("--seed", type=click.IntRange(min=0), metavar="N",
              help="Seed of the random draw; the same seed draws the same items (default: from the date).")
@click.option("--dry-run", is_flag=True, help="Show the sample without recording it.")
@json_option
@pass_ctx
@domain_errors
def plan(obj: Context, campaign: str | None, percent: int, on: date, seed: int | None, dry_run: bool,
         as_json: bool) -> None:
    """Sample finished items of a campaign for a look-back on a day (supervisors and admins).

    The sample is stratified by problem (every problem with finished items gets at least one),
    rounds half up, and is reproducible: the seed is recorded with the plan.
    """
    from cli.render import table

    app = obj.app()
    result = app.lookback_plan(obj.actor, campaign, percent, on, seed, dry_run=dry_run)
    if as_json:
        echo_json(result.as_dict())
        return
    table([t("problem", "问题"), t("finished items", "已完成事项"), t("sampled", "抽取"), t("tasks", "任务")],
          [[s["problem"], s["eligible"], s["sampled"], ", ".join(s["tasks"])] for s in result.strata],
          title=t(f"Look-back sample of {result.campaign} on {result.on}",
                  f"{result.campaign} 回头看抽样（{result.on}）"), right=[1, 2])
    sampled = len(result.lookbacks)
    if result.dry_run:
        echo(t(f"dry run: {sampled} of {result.eligible} items would be sampled "
                     f"({result.sample_percent}%, seed {result.seed}); nothing was recorded",
                     f"预演：将从 {result.eligible} 项中抽取 {sampled} 项（{result.sample_percent}%，种子 {result.seed}），"
                     "未作记录"))
        return
    echo(t(f"plan {result.id}: {sampled} of {result.eligible} items sampled "
                 f"({result.sample_percent}%, seed {result.seed}); see 'duban lookback list'",
                 f"抽样计划 {result.id}：从 {result.eligible} 项中抽取 {sampled} 项（{result.sample_percent}%，"
                 f"种子 {result.seed}）；见 duban lookback list"))


@lookback.command("list")
@click.option("--due", "due_only", is_flag=True, help="Only pending look-backs due today or earlier.")
@click.option("--campaign", metavar="NAME", help="Only this campaign's look-backs.")
@click.option("--status", type=click.Choice(["pending", "passed", "rebound", "cancelled"]),
              help="Only look-backs with this status.")
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, due_only: bool, campaign: str | None, status: str | None, as_json: bool) -> None:
    """List look-backs by due date (due ones in bold)."""
    app = obj.app()
    rows = app.lookback_list(due_only=due_only, campaign=campaign, status=status)
    if as_json:
        echo_json([v.as_dict() for v in rows])
        return
    print_lookbacks(app, rows, with_task=True)


def print_lookbacks(app: "Duban", rows: list["LookbackView"], *, with_task: bool, title: str | None = None) -> None:
    """The look-back table; ``task show`` uses it without the task columns."""
    from cli.render import fmt_date, fmt_time, state_label, table

    tz = app.clock.tz
    headers = [t("id", "编号"), t("due", "日期")]
    if with_task:
        headers += [t("task", "任务"), t("code", "代码"), t("title", "标题"), t("state", "状态")]
    headers += [t("source", "来源"), t("result", "结果"), t("reviewer", "检查人"), t("recorded", "记录时间"),
                t("note", "说明")]
    out = []
    for v in rows:
        row: list[Any] = [v.id, fmt_date(v.due)]
        if with_task:
            row += [v.task_id, v.task_code, v.title, state_label(app, None, v.task_state)]
        source = (t(f"policy, round {v.round}", f"规定第 {v.round} 次") if v.source == "policy"
                  else t(f"plan {v.plan_id}", f"抽样计划 {v.plan_id}"))
        row += [source, _STATUS.get(v.status, (v.status, v.status))[0 if _en() else 1], v.reviewer,
                fmt_time(v.recorded_at, tz), v.note]
        out.append(row)
    table(headers, out, title=title, right=[0], styles=["bold" if v.is_due else None for v in rows])


_STATUS = {
    "pending": ("pending", "待检查"),
    "passed": ("passed", "未反弹"),
    "rebound": ("rebound", "反弹"),
    "cancelled": ("cancelled", "已取消"),
}


def _en() -> bool:
    return t("en", "zh") == "en"


@lookback.command("record")
@click.argument("lookback_id", metavar="ID", type=ROW_ID)
@click.option("--pass", "passed", is_flag=True, help="The problem has not come back.")
@click.option("--rebound", is_flag=True, help="The problem has come back (反弹): reopen the item (needs --due).")
@click.option("--note", required=True, metavar="TEXT", help="What the look-back found (recorded in the trail).")
@click.option("--due", type=DEADLINE, help="New deadline of a rebound item: a date, Nd or Nwd.")
@json_option
@pass_ctx
@domain_errors
def record(obj: Context, lookback_id: int, passed: bool, rebound: bool, note: str, due: str | None,
           as_json: bool) -> None:
    """Record the result of look-back ID (supervisors and admins).

    --pass closes it; --rebound also fires the workflow's rebound event on the item (reopen, or
    send back) with the new deadline --due, all in one transaction.
    """
    if passed == rebound:
        raise click.UsageError(t("give exactly one of --pass and --rebound", "请在 --pass 与 --rebound 中选择一个"))
    if passed and due is not None:
        raise click.UsageError(t("--due goes with --rebound only: a passed look-back sets no deadline",
                                 "--due 只与 --rebound 一起使用"))
    from cli.render import fmt_date, state_label, warn

    app = obj.app()
    result = app.lookback_record(obj.actor, lookback_id, passed, note, due=due)
    if result.move is not None:
        for w in result.move.warnings:
            warn(w)
    if as_json:
        echo_json(result.as_dict())
        return
    v = result.lookback
    if result.move is None:
        echo(t(f"look-back {v.id} of task {v.task_code}: passed",
                     f"任务 {v.task_code} 的回头看 {v.id}：未反弹"))
        return
    m = result.move
    before = state_label(app, m.task.workflow, m.from_state)
    after = state_label(app, m.task.workflow, m.to_state)
    echo(t(f"look-back {v.id} of task {v.task_code}: rebound; task {before} → {after}, due {fmt_date(m.task.due)}",
                 f"任务 {v.task_code} 的回头看 {v.id}：反弹；{before} → {after}，时限 {fmt_date(m.task.due)}"))
