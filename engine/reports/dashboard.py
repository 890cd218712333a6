"""A one-file HTML dashboard: totals, bars per problem and unit, traffic lights, overdue items and
a burn-down of open items, as of a date.

Self-contained on purpose (inline CSS and SVG, no script, no font or file from the network): it is
mailed around and opened on machines that may have no internet access. Every number is taken from
the as-of report and carries a ``data-figure`` attribute, so a test can read it from the DOM.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from html import escape
from typing import TYPE_CHECKING

import sqlalchemy as sa

from engine.core import policy as reminders
from engine.i18n import LazyString, language, lazy_pgettext
from engine.reports.progress import (Figures, Group, Progress, ProgressReport, Standing, TaskAsOf, check_as_of,
                                     format_yuan, open_series, progress_counts, standing_tasks, standings)
from engine.reports.progress import progress as progress_as_of
from engine.reports.scores import COLUMNS, ScoreReport, cell, column_label, rules_line, scores, totals
from storage.tables import campaigns, tasks

if TYPE_CHECKING:
    from engine.core.ledger import Ledger

# Working days before the deadline from which an open item shows yellow.
# Above this many days the burn-down plots one point a week, to keep the SVG small.
DAILY_LIMIT = 120
# Rows listed per table: a leader reads the most urgent items; the exported ledger lists them all.
LIST_LIMIT = 200

_TEXT: dict[str, LazyString] = {
    "title": lazy_pgettext("dashboard", "Supervision dashboard"),
    "as_of": lazy_pgettext("dashboard", "As of"),
    "open": lazy_pgettext("dashboard", "Open"),
    "overdue": lazy_pgettext("dashboard", "Overdue"),
    "flagged": lazy_pgettext("dashboard", "Flagged"),
    "funds": lazy_pgettext("dashboard", "Funds recovered (yuan)"),
    "completion": lazy_pgettext("dashboard", "Completion rate"),
    "by_problem": lazy_pgettext("dashboard", "Progress per problem"),
    "by_unit": lazy_pgettext("dashboard", "Progress per unit"),
    "by": lazy_pgettext("dashboard", "Progress per {label}"),
    "board": lazy_pgettext("dashboard", "{title} dashboard"),
    "lights": lazy_pgettext("dashboard", "Traffic lights"),
    "overdue_list": lazy_pgettext("dashboard", "Overdue items"),
    "burndown": lazy_pgettext("dashboard", "Open items over time"),
    "code": lazy_pgettext("dashboard", "Code"),
    "item": lazy_pgettext("dashboard", "Item"),
    "unit": lazy_pgettext("dashboard", "Unit"),
    "due": lazy_pgettext("dashboard", "Deadline"),
    "late": lazy_pgettext("dashboard", "Days late"),
    "state": lazy_pgettext("dashboard", "State"),
    "none": lazy_pgettext("dashboard", "None."),
    "more": lazy_pgettext("dashboard", "{n} more not listed; the exported ledger lists every item."),
    "promises": lazy_pgettext("dashboard", "Receipts and deadlines"),
    "unacknowledged": lazy_pgettext("dashboard", "Not acknowledged"),
    "receipts_late": lazy_pgettext("dashboard", "Receipts late"),
    "handled_unacknowledged": lazy_pgettext("dashboard", "Handled without acknowledging"),
    "on_time_rate": lazy_pgettext("dashboard", "Done by the original deadline"),
    "extensions": lazy_pgettext("dashboard", "Deadline extensions"),
    "slipped": lazy_pgettext("dashboard", "Items whose deadline slipped more than once"),
}
_LIGHT: dict[str, LazyString] = {
    "red": lazy_pgettext("light", "overdue"), "yellow": lazy_pgettext("light", "due soon"),
    "green": lazy_pgettext("light", "on time"),
}


def _texts() -> dict:
    """The dashboard's words in the language in use."""
    return {**{k: str(v) for k, v in _TEXT.items()}, "light": {k: str(v) for k, v in _LIGHT.items()}}


_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#222;background:#fafafa}
h1{margin:0 0 4px}h2{margin:28px 0 8px;font-size:1.2em}.muted{color:#666}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #ddd;border-radius:6px;
padding:10px 16px;min-width:120px}.card .n{font-size:1.8em;font-weight:bold}
.row{display:flex;align-items:center;gap:8px;margin:4px 0}.row .label{width:320px;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap}.bar{display:flex;flex:1;height:18px;background:#eee;border-radius:3px;
overflow:hidden}.done{background:#2e7d32}.partial{background:#f9a825}.ongoing{background:#1565c0}
.row .n{width:90px;text-align:right}table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}.dot{display:inline-block;width:14px;height:14px;
border-radius:50%;vertical-align:middle}.red{background:#c62828}.yellow{background:#f9a825}.green{background:#2e7d32}
.legend span{margin-right:12px}
"""


def traffic_light(app: "Ledger", task: TaskAsOf | Standing, as_of: date) -> str | None:
    """The task view's own light (``reminders.light``: red past the deadline in force, yellow within
    the workflow's ``[traffic_light] yellow_within``, green otherwise; None when closed), as of the day."""
    return reminders.light(app, task, as_of)


def _workflows_of(app: "Ledger", campaign: str | None) -> set[str]:
    """The workflows of the ledger's tasks (of ``campaign``'s), whatever day the board is drawn for."""
    stmt = sa.select(tasks.c.workflow).distinct()
    if campaign:
        stmt = stmt.join(campaigns, campaigns.c.id == tasks.c.campaign_id).where(campaigns.c.name == campaign)
    with app.reading() as conn:
        return set(conn.execute(stmt).scalars())


def _start(app: "Ledger", report: ProgressReport, campaign: str | None, workflow: str | None = None) -> date:
    with app.reading() as conn:
        if workflow and "campaign" not in app.workflow(workflow).uses:  # from its first assignment
            first = conn.execute(sa.select(sa.func.min(tasks.c.created_at)).where(tasks.c.workflow == workflow)).scalar()
            start = first.astimezone(app.clock.tz).date() if first else None
        else:
            stmt = sa.select(sa.func.min(campaigns.c.feedback_date))
            if campaign:
                stmt = stmt.where(campaigns.c.name == campaign)
            start = conn.execute(stmt).scalar_one()
    return min(start or report.as_of, report.as_of)


def dashboard_html(app: "Ledger", as_of: date | None = None, campaign: str | None = None,
                   workflow: str | None = None, progress: Progress | None = None) -> str:
    """The dashboard as one HTML document (a string), as of the end of ``as_of`` (default today);
    with ``workflow``, of its tasks only, titled and grouped as it declares.

    Answered from the database: the figures are counted by ``progress_counts``, the lights and the
    overdue items from the tasks grouped as they stood (``standings``); only the items listed are
    read one by one."""
    as_of = check_as_of(app, as_of)
    report = progress_counts(app, as_of, campaign=campaign, workflow=workflow)
    lines = standings(app, as_of, campaign=campaign, workflow=workflow)
    items = sum(ln.count for ln in lines)
    if progress is not None:
        progress(0, items)  # the items are read in groups: the bar moves from none to all
    series = open_series(app, _start(app, report, campaign, workflow), as_of, campaign=campaign, workflow=workflow)
    if len(series) > DAILY_LIMIT:
        series = series[::7] + ([series[-1]] if (len(series) - 1) % 7 else [])
    lang = app.lang
    with language(lang):
        tx = {**_texts(), **report.labels}  # the figures as the workflow names them ([report] labels)
    # Titled by the workflow of the items shown (巡察整改看板, 人大代表建议办理看板), not by one assumed:
    # a ledger of suggestions is no rectification; items of several workflows share the generic title.
    shown = {workflow} if workflow else _workflows_of(app, campaign)
    if len(shown) == 1:
        tx["title"] = tx["board"].format(title=app.workflow(shown.pop()).title.text(lang))
    # the workflow's word for the deadline (整改时限 / 办理时限) when every item shown is of one workflow
    tx["due"] = app.ledger_label({ln.workflow for ln in lines} or [workflow or ""], "deadline") or tx["due"]
    for name, _groups in report.groups:  # a declared grouping is headed by the field's label
        tx.setdefault(f"by_{name}", tx["by"].format(label=report.labels.get(name, name)))
    f = report.figures
    # A light depends on the workflow, state, flag and dates alone: worked out once per line.
    lit = [(ln, light) for ln in lines for light in [traffic_light(app, ln, as_of)] if light]
    counts = {light: 0 for light in _URGENCY}
    for ln, light in lit:
        counts[light] += ln.count
    # The items listed, most urgent first: only the lines that can hold them are read item by item.
    urgent = _first(app, as_of, lit, lambda ln, light: (_URGENCY[light], ln.deadline_in_force), campaign, workflow)
    late = _first(app, as_of, [(ln, None) for ln in lines if ln.days_overdue > 0],
                  lambda ln, _light: (-ln.days_overdue,), campaign, workflow)
    shown = {tid for tid, _light in urgent + late}
    listed = {t.id: t for t in progress_as_of(app, as_of, campaign=campaign, since=False, workflow=workflow,
                                              ids=shown).tasks} if shown else {}
    if progress is not None:
        progress(items, items)
    parts = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(tx['title'])} {as_of.isoformat()}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(tx['title'])}</h1>",
        f'<p class="muted">{escape(report.campaign or "")} {escape(tx["as_of"])} '
        f'<span data-figure="as_of">{as_of.isoformat()}</span></p>',
        _cards(f, tx, with_funds=report.records_funds),
        *(_bars(f"by_{name}", groups, tx, with_key=name == "problem") for name, groups in report.groups),
        # the units' scores are the office's ranking over every workflow; a workflow's own board has none
        *(_promises(ranking, tx) + "\n" + _ranking(ranking) for ranking in
          ([scores(app, as_of, campaign=campaign)] if workflow is None else [])),
        _lights(counts, [(listed[tid], light) for tid, light in urgent], tx),
        _overdue([listed[tid] for tid, _light in late], sum(ln.count for ln in lines if ln.days_overdue > 0), tx),
        f"<h2>{escape(tx['burndown'])}</h2>",
        burndown_svg(series),
        "</body></html>",
    ]
    return "\n".join(parts)


def _first(app: "Ledger", as_of: date, lines: list[tuple[Standing, str | None]],
           key: Callable[[Standing, str | None], tuple], campaign: str | None,
           workflow: str | None) -> list[tuple[int, str | None]]:
    """(task id, light) of the first LIST_LIMIT items of ``lines`` by ``key``, then id: the lines are
    taken in key order until they hold enough items (and every line tied with the last, whose items
    may come first by id); only their items are read."""
    chosen: list[tuple[Standing, str | None]] = []
    held, last = 0, None
    for ln, light in sorted(lines, key=lambda pair: key(*pair)):
        k = key(ln, light)
        if held >= LIST_LIMIT and k != last:
            break
        chosen.append((ln, light))
        held, last = held + ln.count, k
    light_of = {id(ln): light for ln, light in chosen}
    items = sorted((key(ln, light_of[id(ln)]) + (tid,), tid, light_of[id(ln)])
                   for tid, ln in standing_tasks(app, as_of, [ln for ln, _light in chosen], campaign, workflow))
    return [(tid, light) for _key, tid, light in items[:LIST_LIMIT]]


def _cards(f: Figures, tx: dict, *, with_funds: bool = True) -> str:
    cards = [
        ("total", tx["total"], str(f.total.count)), ("done", tx["done"], str(f.done.count)),
        ("partial", tx["partial"], str(f.partial.count)), ("ongoing", tx["ongoing"], str(f.ongoing.count)),
        ("overdue", tx["overdue"], str(f.overdue.count)), ("flagged", tx["flagged"], str(f.flagged.count)),
        *([("funds", tx["funds"], format_yuan(f.funds.amount))] if with_funds else []),
        ("completion", tx["completion"], f"{f.completion_rate:.1%}"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="n" data-figure="{key}">{escape(value)}</div>'
        f'<div class="muted">{escape(label)}</div></div>' for key, label, value in cards) + "</div>"


def _bars(kind: str, groups: list[Group], tx: dict, *, with_key: bool) -> str:
    out = [f"<h2>{escape(tx[kind])}</h2>",
           f'<p class="legend"><span><i class="dot done"></i> {escape(tx["done"])}</span>'
           f'<span><i class="dot partial"></i> {escape(tx["partial"])}</span>'
           f'<span><i class="dot ongoing"></i> {escape(tx["ongoing"])}</span></p>']
    for g in groups:
        gf = g.figures
        total = gf.total.count or 1
        label = f"{g.key} {g.label}" if with_key else g.label
        segments = "".join(
            f'<div class="{cls}" style="width:{100 * n / total:.2f}%" title="{escape(tx[cls])}: {n}"></div>'
            for cls, n in (("done", gf.done.count), ("partial", gf.partial.count), ("ongoing", gf.ongoing.count)) if n)
        out.append(
            f'<div class="row" data-group="{kind}" data-key="{escape(g.key)}">'
            f'<div class="label" title="{escape(label)}">{escape(label)}</div><div class="bar">{segments}</div>'
            f'<div class="n"><span data-figure="done">{gf.done.count}</span>/'
            f'<span data-figure="total">{gf.total.count}</span></div></div>')
    return "\n".join(out)


def _more(shown: int, total: int, tx: dict) -> str:
    return f'<p class="muted" data-figure="not_listed">{escape(tx["more"].format(n=total - shown))}</p>' \
        if total > shown else ""


def _promises(report: ScoreReport, tx: dict) -> str:
    """Receipts (签收) and kept deadlines, office-wide, from the units' scores (replayed from the trail)."""
    t = totals(report)
    rate = f"{t['done_by_original_due_rate']:.1%}" if t["done_by_original_due_rate"] is not None else "—"
    cards = [("unacknowledged", tx["unacknowledged"], str(t["unacknowledged"])),
             ("receipts_late", tx["receipts_late"], str(t["receipts_late"])),
             ("handled_unacknowledged", tx["handled_unacknowledged"], str(t["handled_unacknowledged"])),
             ("done_by_original_due_rate", tx["on_time_rate"], rate),
             ("extensions", tx["extensions"], str(t["extensions"])),
             ("slipped_more_than_once", tx["slipped"], str(t["slipped_more_than_once"]))]
    return f"<h2>{escape(tx['promises'])}</h2>" + '<div class="cards">' + "".join(
        f'<div class="card"><div class="n" data-figure="{key}">{escape(value)}</div>'
        f'<div class="muted">{escape(label)}</div></div>' for key, label, value in cards) + "</div>"


def _ranking(report: ScoreReport) -> str:
    """The units ranked by score (考核), each figure from ``engine.reports.scores``."""
    from engine.i18n import gettext as _

    heading = _("Unit ranking")
    out = [f"<h2>{escape(heading)}</h2>", "<table><tr>"
           + "".join(f"<th>{escape(column_label(k))}</th>" for k in COLUMNS) + "</tr>"]
    for u in report.units:
        out.append(f'<tr data-unit="{escape(u.unit)}">' + "".join(
            f'<td data-score="{k}">{escape(cell(u, k))}</td>' for k in COLUMNS) + "</tr>")
    out.append("</table>")
    out.append(f'<p class="muted">{escape(rules_line(report))}</p>')
    return "\n".join(out)


_URGENCY = {"red": 0, "yellow": 1, "green": 2}


def _lights(counts: dict[str, int], rows: list[tuple[TaskAsOf, str | None]], tx: dict) -> str:
    """How many items show each light, then ``rows``: the items most urgent first (red, yellow, green
    by deadline in force), at most LIST_LIMIT of them."""
    out = [f"<h2>{escape(tx['lights'])}</h2>"]
    if not sum(counts.values()):
        return out[0] + f"<p>{escape(tx['none'])}</p>"
    out.append('<p class="legend">' + "".join(
        f'<span><i class="dot {light}"></i> {escape(tx["light"][light])} '
        f'<b data-figure="light_{light}">{n}</b></span>' for light, n in counts.items()) + "</p>")
    out.append(f"<table><tr><th></th><th>{escape(tx['code'])}</th><th>{escape(tx['item'])}</th>"
               f"<th>{escape(tx['unit'])}</th><th>{escape(tx['state'])}</th><th>{escape(tx['due'])}</th></tr>")
    for t, light in rows:
        out.append(f'<tr data-light="{light}" data-code="{escape(t.code)}"><td><i class="dot {light}" '
                   f'title="{escape(tx["light"][light])}"></i></td><td>{escape(t.code)}</td><td>{escape(t.title)}</td>'
                   f"<td>{escape(t.unit)}</td><td>{escape(t.state_label)}</td><td>{(t.deadline_in_force or t.due).isoformat()}</td></tr>")
    out.append("</table>")
    out.append(_more(len(rows), sum(counts.values()), tx))
    return "\n".join(out)


def _overdue(shown: list[TaskAsOf], total: int, tx: dict) -> str:
    """The ``total`` overdue items: ``shown``, the latest first, at most LIST_LIMIT of them."""
    head = f"<h2>{escape(tx['overdue_list'])}</h2>"
    if not total:
        return head + f'<p data-figure="overdue_list">{escape(tx["none"])}</p>'
    rows = "".join(
        f'<tr data-overdue="{escape(t.code)}"><td>{escape(t.code)}</td><td>{escape(t.title)}</td>'
        f"<td>{escape(t.unit)}</td><td>{(t.deadline_in_force or t.due).isoformat()}</td><td>{t.days_overdue}</td></tr>"
        for t in shown)
    return (head + f'<table data-figure="overdue_list"><tr><th>{escape(tx["code"])}</th><th>{escape(tx["item"])}</th>'
            f'<th>{escape(tx["unit"])}</th><th>{escape(tx["due"])}</th><th>{escape(tx["late"])}</th></tr>{rows}</table>'
            + _more(len(shown), total, tx))


def burndown_svg(series: list[tuple[date, int]], width: int = 900, height: int = 260) -> str:
    """An inline SVG line of open items per day (or week), with axis labels at the ends."""
    if not series:
        return "<svg></svg>"
    left, right, top, bottom = 40, 10, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max(n for _d, n in series) or 1
    span = max((series[-1][0] - series[0][0]).days, 1)

    def xy(d: date, n: int) -> tuple[float, float]:
        return left + plot_w * (d - series[0][0]).days / span, top + plot_h * (1 - n / top_value)

    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(d, n) for d, n in series))
    last_x, last_y = xy(*series[-1])
    first, last = series[0], series[-1]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-figure="burndown" data-points="{len(series)}" role="img">'
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#ccc"/>'
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{top_value}</text>'
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>'
        f'<text x="{left}" y="{height - 8}" font-size="11">{first[0].isoformat()}</text>'
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end" font-size="11">{last[0].isoformat()}</text>'
        f'<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{points}"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="3" fill="#1565c0"/>'
        f'<text x="{last_x - 4:.1f}" y="{last_y - 6:.1f}" text-anchor="end" font-size="11" '
        f'data-figure="open_at_end">{last[1]}</text></svg>'
    )

