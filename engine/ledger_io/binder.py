"""The evidence binder (整改资料册): one zip that shows the whole process of every item and can be checked.

Layout: ``manifest.json`` (every file's sha256, each task's evidence and the trail head at export),
``index.html``, and per task ``<code>-<title>/`` holding its evidence files and an ``index.html`` of
its history, notes, outcomes and files with their sha256.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.core.errors import InvalidInput, Phrase, VerificationFailed
from engine.i18n import N_
from engine.core.files import atomic_output
from engine.core.views import TaskDetail, outcome_kind_label
from engine.i18n import language, pgettext
from storage.tables import evidence as _EVIDENCE, tasks as _TASKS, trail as _TRAIL, trail_head as _HEAD

CHUNK = 1 << 20  # bytes read at a time from an evidence file

if TYPE_CHECKING:
    from engine.api import Duban

FORMAT = "duban-binder"
MANIFEST = "manifest.json"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def _safe(name: str, limit: int = 60) -> str:
    return (_UNSAFE.sub("_", name).strip(" .") or "_")[:limit]


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:4px 8px;vertical-align:top;text-align:left}"
            "code{font-size:85%}"
            # Printed for the file: A4, black links, no row or heading split across pages.
            "@page{size:A4;margin:15mm}"
            "@media print{body{margin:0;font-size:10.5pt}a{color:#000;text-decoration:none}"
            "thead{display:table-header-group}tr,td,th{page-break-inside:avoid}h1,h2{page-break-after:avoid}"
            "code{word-break:break-all}}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{body}</body></html>")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p>—</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value)).replace("\n", "<br>")


# The binder is a Chinese document filed with the inspectors: its words come from the zh catalog
# whatever language the person exporting it reads (the pages are built under language("zh")).
DOCUMENT_LANG = "zh"


def _both(label: Callable[[str, str, str], str], workflow: str, name: str | None) -> str:
    """A state's or event's label in the document's language."""
    if not name:
        return ""
    return label(workflow, name, DOCUMENT_LANG)


def _minute(app: "Duban", at: Any) -> str:
    """A stored time in the ledger's zone, to the minute."""
    return at.astimezone(app.clock.tz).strftime("%Y-%m-%d %H:%M")


def _move(app: "Duban", workflow: str, before: str | None, after: str | None) -> str:
    """from → to, or nothing when the record moved nothing (a note, a file, an outcome)."""
    if before == after:
        return ""
    return f"{_both(app.state_label, workflow, before) or '—'} → {_both(app.state_label, workflow, after)}"


def _task_page(app: "Duban", d: TaskDetail, files: list[tuple[str, str, Any]],
               people: dict[str, str] | None = None) -> str:
    with language(DOCUMENT_LANG):
        return _task_page_words(app, d, files, people)


def _task_page_words(app: "Duban", d: TaskDetail, files: list[tuple[str, str, Any]],
                     people: dict[str, str] | None) -> str:
    t = d.task
    who = (lambda login: (people or {}).get(login, login))  # noqa: E731
    facts = _table(["", ""], [[k, _e(v)] for k, v in [
        (pgettext("binder", "campaign"), t.campaign),
        (pgettext("binder", "problem"), f"{t.problem} {d.problem_title}"),
        (pgettext("binder", "observed"), d.observed), (pgettext("binder", "measures"), "\n".join(d.measures)),
        (pgettext("binder", "leader"), t.leader), (pgettext("binder", "unit"), t.unit),
        (pgettext("binder", "person"), t.person),
        # the workflow's own word (办理时限 for a suggestion), the generic one for a workflow naming none
        (app.ledger_label([t.workflow], "deadline", DOCUMENT_LANG) or pgettext("binder", "due"), t.due),
        (pgettext("binder", "state"), _both(app.state_label, t.workflow, t.state)),
        (pgettext("binder", "follow-up plan"), t.followup_plan),
        (pgettext("binder", "target date"), t.followup_target)]])
    hist = _table(["#", pgettext("binder", "time"), pgettext("binder", "event"), pgettext("binder", "from → to"),
                   pgettext("binder", "by"), pgettext("binder", "note"), "hash"],
                  [[r.id, _e(_minute(app, r.at)),
                    _e(_both(app.event_label, t.workflow, r.event)),
                    _e(_move(app, t.workflow, r.from_state, r.to_state)),
                    _e(who(r.actor)), _e(r.note),
                    f"<code>{r.hash[:16]}…</code>"] for r in d.history])
    notes = _table([pgettext("binder", "date"), pgettext("binder", "progress"), pgettext("binder", "recorded by")],
                   [[_e(n.on), _e(n.text), _e(who(n.author))] for n in d.notes])
    outs = _table([pgettext("binder", "kind"), pgettext("binder", "date"), pgettext("binder", "amount (yuan)"),
                   pgettext("binder", "content"), pgettext("binder", "recorded by")],
                  [[_e(outcome_kind_label(o.kind)), _e(o.on), _e(o.amount), _e(o.text), _e(who(o.added_by))]
                   for o in d.outcomes])
    evid = _table([pgettext("binder", "file"), pgettext("binder", "note"), pgettext("binder", "size (bytes)"), "sha256"],
                  [[f'<a href="{html.escape(name)}">{html.escape(name)}</a>' if name
                    else pgettext("binder", "(file missing)"),
                    _e(ev.note), ev.size, f"<code>{ev.sha256}</code>"] for name, _sha, ev in files])
    sections = [(pgettext("binder", "Facts"), facts), (pgettext("binder", "History"), hist),
                (pgettext("binder", "Progress notes"), notes), (pgettext("binder", "Outcomes"), outs),
                (pgettext("binder", "Evidence"), evid)]
    return _page(f"{t.code} {t.title}", "".join(f"<h2>{html.escape(h)}</h2>{body}" for h, body in sections))


@dataclass
class BinderResult:
    path: str
    tasks: int
    files: int
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "tasks": self.tasks, "files": self.files, "missing": self.missing}


def export_binder(app: "Duban", out: Path | str, *, campaign: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> BinderResult:
    """Writes the binder zip. Evidence whose stored file is missing is listed as missing, not invented.

    Read in one snapshot: its pages, manifest and trail head show the ledger at one moment, though a
    unit reports or a supervisor strikes off while it is being made (no write lock is taken)."""
    with app.snapshot():
        return _write_binder(app, Path(out), campaign, progress)


def _write_binder(app: "Duban", out: Path, campaign: str | None,
                  progress: Callable[[int, int], None] | None) -> BinderResult:
    tasks = app.list_tasks(campaign=campaign)
    tasks.sort(key=lambda t: (t.campaign, t.id))
    several = len({t.campaign for t in tasks}) > 1
    with app.reading() as conn:  # a reader: no write lock, and no ORM
        head = conn.execute(sa.select(_HEAD.c.last_id, _HEAD.c.last_hash, _HEAD.c.count)
                            .where(_HEAD.c.id == 1)).first()
        head_info = {"last_id": head.last_id, "hash": head.last_hash, "count": head.count} if head else None
    manifest: dict[str, Any] = {"format": FORMAT, "version": 1, "generated_at": app.now().isoformat(),
                                "trail_head": head_info, "files": {}, "tasks": []}
    result = BinderResult(str(out), len(tasks), 0)
    used: set[str] = set()
    people = {u.name: u.display or u.name for u in app.list_users()}
    # 01-…, 02-… … 16-…: folders sort in the ledger's order in every file browser.
    digits = max((len(t.code) for t in tasks if t.code.isdigit()), default=0)
    index_rows = []
    # Written whole or not at all: a failure half-way leaves the previous binder (or none) in place.
    with atomic_output(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:

        def put(name: str, data: bytes) -> None:
            z.writestr(name, data)
            manifest["files"][name] = hashlib.sha256(data).hexdigest()

        def put_file(name: str, source: Path) -> None:
            # A chunk at a time: evidence can be hundreds of MB, and a binder holds many.
            digest = hashlib.sha256()
            with open(source, "rb") as src, z.open(name, "w", force_zip64=True) as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
            manifest["files"][name] = digest.hexdigest()

        for done, t in enumerate(tasks):
            if progress and done % 100 == 0:
                progress(done, len(tasks))  # (items done, items in all): the front end draws it
            d = app.get_task(t.id)
            folder = _safe(f"{t.code.zfill(digits) if t.code.isdigit() else t.code}-{t.title}")
            if several:
                folder = f"{_safe(t.campaign)}/{folder}"
            base, n = folder, 2
            while folder in used:
                folder, n = f"{base}~{n}", n + 1
            used.add(folder)
            files: list[tuple[str, str, Any]] = []
            entry: dict[str, Any] = {"id": t.id, "code": t.code, "campaign": t.campaign, "folder": folder,
                                     "evidence": []}
            for ev in d.evidence:
                name = _safe(f"{ev.id}-{ev.original_name}", 120)
                path = app.blobs.path_for(ev.sha256)
                if path.is_file():
                    put_file(f"{folder}/{name}", path)
                    files.append((name, ev.sha256, ev))
                    entry["evidence"].append({"id": ev.id, "sha256": ev.sha256, "name": ev.original_name,
                                              "path": f"{folder}/{name}"})
                    result.files += 1
                else:
                    files.append(("", ev.sha256, ev))
                    entry["evidence"].append({"id": ev.id, "sha256": ev.sha256, "name": ev.original_name, "path": None})
                    result.missing.append(f"task {t.code}: {ev.original_name} ({ev.sha256})")
            put(f"{folder}/index.html", _task_page(app, d, files, people).encode("utf-8"))
            manifest["tasks"].append(entry)
            index_rows.append([_e(t.campaign), f'<a href="{html.escape(folder)}/index.html">{_e(t.code)}</a>',
                               _e(t.title), _e(t.unit), _e(_both(app.state_label, t.workflow, t.state)),
                               len(d.evidence)])
        with language(DOCUMENT_LANG):
            generated = pgettext("binder", "Generated {time} · trail head {hash}").format(
                time=_e(_minute(app, app.now())), hash=f"<code>{_e(head_info['hash'] if head_info else '')}</code>")
            body = (f"<p>{generated}</p>"
                    + _table([pgettext("binder", "campaign"), pgettext("binder", "No."), pgettext("binder", "item"),
                              pgettext("binder", "unit"), pgettext("binder", "state"),
                              pgettext("binder", "evidence files")],
                             index_rows))
            title = pgettext("binder", "Evidence binder")
        put("index.html", _page(title, body).encode("utf-8"))
        z.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    if progress:
        progress(len(tasks), len(tasks))
    return result


_UTF8_FLAG = 0x800


def _sha256(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    digest = hashlib.sha256()
    with z.open(info) as member:  # a chunk at a time: evidence can be hundreds of MB
        while chunk := member.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def entry_name(info: zipfile.ZipInfo) -> str:
    """The name of a zip entry as its writer meant it: UTF-8 when flagged; else, as zipfile read the raw
    bytes as CP437, the bytes decoded as UTF-8 (the zip command on Linux and macOS), else GBK (Chinese
    Windows), else left as read."""
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


@dataclass
class BinderReport:
    files: int = 0
    tasks: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_binder(app: "Duban", path: Path | str) -> BinderReport:
    """Checks the binder against itself (every file against the manifest) and against the ledger
    (tasks, evidence sha256 and the trail head it was made at). Raises ``VerificationFailed``."""
    path = Path(path)
    report = BinderReport()
    p = report.problems
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InvalidInput("binder", str(path), Phrase(N_("a zip written by 'duban export binder'"))) from None
    with z:
        # Entry names as written: a zip re-made by a tool without the UTF-8 flag (Windows' own zip,
        # the zip command) stores them in the system's code page, which zipfile reads as CP437.
        entries = {entry_name(info): info for info in z.infolist() if not info.filename.endswith("/")}
        try:
            manifest = json.loads(z.read(entries[MANIFEST]))
        except (KeyError, ValueError):
            raise InvalidInput("binder", str(path), Phrase(N_("a binder zip with a readable {manifest}"),
                                                                manifest=MANIFEST)) from None
        if manifest.get("format") != FORMAT:
            raise InvalidInput("binder", str(path), Phrase(N_("its manifest is not a {format} manifest"),
                                                            format=FORMAT))
        listed: dict[str, str] = manifest.get("files", {})
        present = {name: _sha256(z, info) for name, info in entries.items() if name != MANIFEST}
        # A file whose name no code page restores is still found by its content.
        unclaimed = {name: sha for name, sha in present.items() if name not in listed}
        for name, sha in sorted(listed.items()):
            actual = present.get(name)
            if actual is None:
                same = next((other for other, h in unclaimed.items() if h == sha), None)
                if same is None:
                    p.append(f"binder file {name} is listed in the manifest but missing")
                    continue
                del unclaimed[same]
                actual = sha
            report.files += 1
            if actual != sha:
                p.append(f"binder file {name} was changed: its sha256 is {actual}, the manifest says {sha}")
        for name in sorted(unclaimed):
            p.append(f"binder file {name} is not in the manifest (added after the binder was made)")
    with app.reading() as conn:  # a reader: checking a binder takes no write lock
        for entry in manifest.get("tasks", []):
            report.tasks += 1
            task_id = entry.get("id")
            task = (conn.execute(sa.select(_TASKS.c.id, _TASKS.c.code).where(_TASKS.c.id == task_id)).first()
                    if isinstance(task_id, int) else None)
            if task is None or task.code != entry.get("code"):
                p.append(f"task {entry.get('code')} (id {entry.get('id')}) of the binder is not in the ledger")
                continue
            stored = dict(conn.execute(sa.select(_EVIDENCE.c.id, _EVIDENCE.c.sha256)
                                       .where(_EVIDENCE.c.task_id == task.id)).all())
            for ev in entry.get("evidence", []):
                if stored.get(ev.get("id")) != ev.get("sha256"):
                    p.append(f"task {task.code}: evidence {ev.get('name')} (sha256 {ev.get('sha256')}) "
                             "is not recorded in the ledger with that sha256")
                elif ev.get("path") and listed.get(ev["path"]) != ev["sha256"]:
                    p.append(f"task {task.code}: binder file {ev['path']} is not the evidence the ledger recorded "
                             f"(sha256 {ev['sha256']})")
        head = manifest.get("trail_head")
        if head and head.get("last_id"):
            rec = conn.execute(sa.select(_TRAIL.c.hash).where(_TRAIL.c.id == head["last_id"])).scalar_one_or_none()
            if rec != head.get("hash"):
                p.append(f"the binder was made at trail record {head['last_id']} (hash {head.get('hash')}), "
                         "which the ledger's trail does not hold: the trail was rewritten or this is another ledger")
    if p:
        raise VerificationFailed(p)
    return report

