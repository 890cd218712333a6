"""The web application: pages for units, supervisors and leaders, and the API mounted at /api/v1.

``create_app()`` builds it for one ledger (``DUBAN_DB`` or the default, as the CLI would open it);
``duban serve`` runs it under uvicorn. Each request acts as its signed-in user: the engine's
visibility rule filters every read, and on a secured PostgreSQL ledger every transaction runs as the
user's database role too (engine/workspace.py).
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from engine import accounts, workspace
from engine.core import signoffs
from engine.core import fields as task_fields
from engine.core.errors import DubanError, NotFound, PermissionDenied, signer_phrase
from engine.core.views import ExtensionRequestView, TaskView, UserView
from engine import i18n
from engine.i18n import N_, gettext as _, language, pgettext
from workflows.access import SUPERVISING_ROLES
from web.problems import status_of
from web.wording import word
from web.security import BodyLimit, SecurityHeaders, UploadTooLarge, csrf_ok, csrf_token, session_secret

DEFAULT_MAX_UPLOAD_MB = 50
DEFAULT_SESSION_HOURS = 8
LANG_COOKIE = "duban_lang"
SESSION_COOKIE = "duban_session"
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp"}
INLINE_TYPES = {**IMAGE_TYPES, ".pdf": "application/pdf"}
# The burn-down chart's size on a phone, in its own units: about the width it is shown at (366 px of a
# 390 px screen), so its 11-unit labels read at about 13 px.
PHONE_CHART = (300, 210)


def _web_setting(duban: Any, key: str, default: float) -> float:
    from engine.core.errors import InvalidInput

    raw = duban.settings.section("web").get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        raise InvalidInput(f"{duban.settings.source or 'config'}: web.{key}", raw, "expected a positive number")
    return float(raw)


def max_upload_bytes(duban: Any) -> int:
    """``[web] max_upload_mb`` (default 50) in bytes."""
    return int(_web_setting(duban, "max_upload_mb", DEFAULT_MAX_UPLOAD_MB) * 1024 * 1024)


class Language:
    """The request's language: the ``duban_lang`` cookie, else the ledger's (``[general] lang``)."""

    def __init__(self, app: ASGIApp, default: str) -> None:
        self.app, self.default = app, i18n.normalize(default) or i18n.DEFAULT_LANG

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from starlette.requests import HTTPConnection

        lang = i18n.normalize(HTTPConnection(scope).cookies.get(LANG_COOKIE)) or self.default
        scope.setdefault("state", {})["lang"] = lang
        with language(lang):
            await self.app(scope, receive, send)


def create_app(db: str | None = None, *, duban: Any = None) -> FastAPI:
    """The workspace for the ledger ``db`` (or an open ``Duban``)."""
    if duban is None:
        from engine.api import Duban

        duban = Duban(db or os.environ.get("DUBAN_DB") or None, lang=os.environ.get("DUBAN_LANG") or None)
    from platformdirs import user_data_dir

    secret_file = Path(duban.settings.section("web").get("session_key_file")
                       or Path(user_data_dir("duban", appauthor=False)) / "web-session.key")
    secure = bool(duban.settings.section("web").get("secure_cookies", False))
    session_hours = _web_setting(duban, "session_hours", DEFAULT_SESSION_HOURS)

    app = FastAPI(title="duban", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.duban = duban
    env = Environment(loader=PackageLoader("web", "templates"), autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = i18n.current_lang
    env.globals["state_label"] = duban.state_label
    # a task's deadline in its workflow's word (办理时限 for a suggestion), the generic 时限 otherwise
    env.globals["deadline_word"] = lambda workflow: (duban.ledger_label([workflow], "deadline", i18n.current_lang())
                                                     or i18n.gettext("deadline"))
    env.globals["local_time"] = lambda at: at.astimezone(duban.clock.tz).strftime("%Y-%m-%d %H:%M")
    pages = Pages(duban, env)
    env.globals["has_queue"] = pages.has_queue
    pages.register(app)

    from web.api import build_api

    app.mount("/api/v1", build_api(duban))
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_middleware(SessionMiddleware, secret_key=session_secret(secret_file), session_cookie=SESSION_COOKIE,
                       max_age=int(session_hours * 3600), same_site="lax", https_only=secure)
    # Chinese unless the office chose otherwise (DUBAN_LANG, [general] lang); each user may switch.
    app.add_middleware(Language, default=i18n.normalize(os.environ.get("DUBAN_LANG"))
                       or i18n.normalize(duban.settings.section("general").get("lang")) or i18n.DEFAULT_LANG)
    app.add_middleware(BodyLimit, limit=max_upload_bytes(duban))
    app.add_middleware(SecurityHeaders)
    return app


class Refused(Exception):
    """A form the engine refused: the page is shown again with the reason beside that form."""

    def __init__(self, form: str, error: DubanError, values: Mapping[str, str], message: str = "") -> None:
        self.form, self.error, self.values = form, error, dict(values)
        self.message = message or str(error)


class Pages:
    def __init__(self, duban: Any, env: Environment) -> None:
        self.duban, self.env = duban, env

    # ------------------------------------------------------------------ plumbing
    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("user", None)
        html = self.env.get_template(template).render(
            request=request, csrf=csrf_token(request.session), path=request.url.path, **context)
        return HTMLResponse(html, status_code=status)

    def signed_in(self, request: Request) -> UserView | None:
        name, stamp = request.session.get("user"), request.session.get("stamp")
        if not isinstance(name, str) or not isinstance(stamp, str):
            return None
        try:
            user = accounts.session_user(self.duban, name, stamp)
        except DubanError:
            user = None
        if user is None:  # the password changed (or the user is gone) since the session began
            request.session.clear()
        return user

    async def page(self, request: Request, work: Callable[[UserView], Response]) -> Response:
        """Runs ``work`` for the signed-in user (else sends them to the login page), in the request's
        language, as the user's database role where the ledger has one."""
        lang = request.state.lang

        def run() -> Response:
            with language(lang):
                user = self.signed_in(request)
                if user is None:
                    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
                try:
                    with workspace.acting_as(self.duban, user.name):
                        return work(user)
                except NotFound as exc:
                    return self.render(request, "error.html", 404, user=user, message=str(exc))
                except DubanError as exc:
                    return self.render(request, "error.html", status_of(exc), user=user, message=str(exc))

        return await run_in_threadpool(run)

    async def form(self, request: Request) -> FormData:
        """The posted form, or 403 when its CSRF token is missing or wrong (nothing is done then)."""
        try:
            form = await request.form(max_part_size=max_upload_bytes(self.duban))
        except UploadTooLarge:
            raise
        except Exception:
            raise HTTPException(400, "the form could not be read") from None
        given = form.get("csrf_token") or request.headers.get("x-csrf-token")
        if not csrf_ok(request.session, given if isinstance(given, str) else None):
            raise HTTPException(403, _("The form has expired or did not come from this site: reload the page "
                                       "and send it again."))
        return form

    # ------------------------------------------------------------------ routes
    def register(self, app: FastAPI) -> None:
        app.add_api_route("/", self.home, methods=["GET"])
        app.add_api_route("/login", self.login_page, methods=["GET"])
        app.add_api_route("/login", self.login, methods=["POST"])
        app.add_api_route("/logout", self.logout, methods=["POST"])
        app.add_api_route("/lang/{code}", self.set_lang, methods=["GET"])
        app.add_api_route("/inbox", self.inbox, methods=["GET"])
        app.add_api_route("/tasks/{task_id}", self.task_page, methods=["GET"])
        app.add_api_route("/tasks/{task_id}/{action}", self.task_action, methods=["POST"])
        app.add_api_route("/queue", self.queue, methods=["GET"])
        app.add_api_route("/lookbacks/{lookback_id}", self.lookback_action, methods=["POST"])
        app.add_api_route("/extensions/{request_id}/{decision}", self.extension_action, methods=["POST"])
        app.add_api_route("/dashboard", self.dashboard, methods=["GET"])
        app.add_api_route("/items", self.items, methods=["GET"])
        app.add_api_route("/evidence/{evidence_id}", self.evidence, methods=["GET"])
        app.add_api_route("/downloads/{name}", self.download, methods=["GET"])

        @app.exception_handler(HTTPException)
        async def _http(request: Request, exc: HTTPException) -> Response:
            user = None
            html = self.env.get_template("error.html").render(
                request=request, csrf=csrf_token(request.session), path=request.url.path, user=user,
                message=str(exc.detail))
            return HTMLResponse(html, status_code=exc.status_code)

    async def home(self, request: Request) -> Response:
        def work(user: UserView) -> Response:
            # whoever has work in the queue starts there: supervisors, admins, and leaders who sign a
            # step of some workflow's sign-off chain; a unit (and a leader who signs none) at the inbox
            target = "/queue" if self.has_queue(user) else "/inbox"
            return RedirectResponse(target, status_code=303)
        return await self.page(request, work)

    async def set_lang(self, request: Request, code: str) -> Response:
        lang = i18n.normalize(code) or i18n.DEFAULT_LANG
        back = request.query_params.get("next", "/")
        response = RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", 303)
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
        return response

    # ------------------------------------------------------------------ signing in and out
    async def login_page(self, request: Request) -> Response:
        return self.render(request, "login.html", next=_safe_next(request.query_params.get("next")))

    async def login(self, request: Request) -> Response:
        form = await self.form(request)
        name = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        nxt = _safe_next(str(form.get("next") or ""))
        lang = request.state.lang

        def check() -> tuple[UserView, str] | tuple[None, DubanError]:
            with language(lang):
                try:
                    user, stamp = accounts.check_password(self.duban, name, password)
                    with workspace.acting_as(self.duban, user.name):
                        pass  # refuses a user without a database role on a secured PostgreSQL ledger
                    return user, stamp
                except DubanError as exc:
                    return None, exc

        user, outcome = await run_in_threadpool(check)
        if user is None:
            assert isinstance(outcome, DubanError)
            status = status_of(outcome)
            message = (_("Too many failed logins: try again in ten minutes.")
                       if isinstance(outcome, accounts.LoginLocked) else
                       _("Unknown user name or wrong password.") if isinstance(outcome, accounts.LoginRefused)
                       else str(outcome))
            return self.render(request, "login.html", status, error=message, username=name, next=nxt)
        request.session.clear()  # a fresh session: nothing from before the login carries over
        request.session.update(user=user.name, stamp=outcome)
        csrf_token(request.session)
        return RedirectResponse(nxt or "/", status_code=303)

    async def logout(self, request: Request) -> Response:
        await self.form(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # ------------------------------------------------------------------ units
    async def inbox(self, request: Request) -> Response:
        return await self.page(request, lambda user: self._inbox(request, user))

    def _inbox(self, request: Request, user: UserView, refused: Refused | None = None) -> Response:
        show_all = request.query_params.get("all") == "1"
        tasks = self.duban.list_tasks(viewer=user.name)
        if not show_all:
            tasks = [t for t in tasks if self.duban.workflow(t.workflow).states[t.state].open]
        # Tasks nobody of the unit has acknowledged (签收) come first: receiving them is the first thing to do.
        unacked = {t.id for t in self.duban.list_tasks(viewer=user.name, unacked=True)}
        order = {"red": 0, "yellow": 1, "green": 2}
        tasks.sort(key=lambda t: (t.id not in unacked, order.get(t.light or "", 3), t.deadline_in_force or t.due, t.id))
        status = status_of(refused.error) if refused else 200
        return self.render(request, "inbox.html", status, user=user, tasks=tasks, show_all=show_all,
                           unacked=unacked, may_ack=lambda t: self._may_ack(user, t), refused=refused,
                           done=request.query_params.get("done"))

    def _may_ack(self, user: UserView, task: TaskView) -> bool:
        """Whether the page offers ``user`` the receipt (签收) of ``task``: the workflow's ``ack`` roles, and
        for a unit's or leader's user only a task of its own unit (the engine checks both again)."""
        allowed = self.duban.workflow(task.workflow).permissions.get("ack", ())
        return user.role in allowed and (user.role in SUPERVISING_ROLES or user.unit == task.unit)

    async def task_page(self, request: Request, task_id: int) -> Response:
        done = request.query_params.get("done")
        return await self.page(request, lambda user: self._task(request, user, task_id, done=done))

    def _task(self, request: Request, user: UserView, task_id: int, refused: Refused | None = None,
              done: str | None = None) -> Response:
        detail = workspace.task_for(self.duban, user, task_id)
        wf = self.duban.workflow(detail.task.workflow)
        events = [wf.events[name] for name in detail.allowed_events if user.role in wf.events[name].roles]
        may = {action: user.role in wf.permissions.get(action, ())
               for action in ("note", "evidence", "extend", "flag", "request_extension")}
        is_open = wf.states[detail.task.state].open
        # A unit asks (延期申请) where the workflow lets its role ask and not extend at once.
        # one request at a time: while one is pending the page shows it instead of the form
        pending = any(r.status == "pending" for r in detail.extension_requests)
        may["request_extension"] = may["request_extension"] and not may["extend"] and is_open and not pending
        may["ack"] = (detail.task.acked_at is None and detail.ack_by is not None and is_open
                      and self._may_ack(user, detail.task))
        status = status_of(refused.error) if refused else 200
        shown = ({f"event-{ev.name}" for ev in events} | {a for a, ok in may.items() if ok} | {"unflag"}
                 | ({"request-extension"} if may["request_extension"] else set()))
        return self.render(
            request, "task.html", status, user=user, d=detail, t=detail.task, wf=wf, events=events, may=may,
            signed=_signed(detail) if done == signoffs.SIGNOFF_EVENT else None,
            refused=refused, refused_elsewhere=refused is not None and refused.form not in shown, done=done, label=self.duban.event_label, inline_types=INLINE_TYPES,
            field_text=lambda fd, value: task_fields.display(fd, value, self.duban.lang),
            image_types=IMAGE_TYPES, suffix=_suffix, back=request.query_params.get("back"),
            request_status=_request_status)

    async def task_action(self, request: Request, task_id: int, action: str) -> Response:
        form = await self.form(request)
        values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        files += [f for f in form.getlist("photo") if isinstance(f, UploadFile) and f.filename]
        back = values.get("back") or ""

        def work(user: UserView) -> Response:
            workspace.task_for(self.duban, user, task_id)  # another unit's task is not found, not refused
            version = _int(values.get("version"))
            done = action
            try:
                if action == "note":
                    self.duban.add_note(user.name, task_id, values.get("text", ""), expected_version=version)
                elif action == "evidence":
                    if not files:
                        from engine.core.errors import InvalidInput

                        raise InvalidInput("evidence file", "", _("choose at least one file"))
                    for upload in files:
                        data = upload.file.read()
                        self.duban.add_evidence_bytes(user.name, task_id, _basename(upload.filename), data,
                                                      note=values.get("note") or None)
                elif action == "extend":
                    self.duban.extend(user.name, task_id, values.get("due", ""), values.get("reason", ""),
                                      expected_version=version)
                elif action == "ack":
                    self.duban.ack(user.name, task_id, note=values.get("note") or None, expected_version=version)
                elif action == "request-extension":
                    self.duban.request_extension(user.name, task_id, values.get("due", ""), values.get("reason", ""),
                                                 expected_version=version)
                elif action in ("flag", "unflag"):
                    self.duban.flag(user.name, task_id, action == "flag", reason=values.get("reason") or None,
                                    expected_version=version)
                elif action.startswith("event-"):
                    # the workflow's declared fields the form gives (an event's inputs such as a reply's class)
                    declared = self.duban.workflow(self.duban.get_task(task_id).task.workflow).fields
                    inputs = {k: v for k, v in values.items() if k in declared and v.strip()}
                    moved = self.duban.fire(user.name, task_id, action[len("event-"):], note=values.get("note"),
                                            plan=values.get("plan"), target=values.get("target") or None,
                                            reason=values.get("reason"), due=values.get("due") or None,
                                            expected_version=version, inputs=inputs or None)
                    if moved.event == signoffs.SIGNOFF_EVENT:  # one step of a chain: say which, and who is next
                        done = signoffs.SIGNOFF_EVENT
                else:
                    raise NotFound("action", action)
            except NotFound:
                raise
            except DubanError as exc:
                wf = self.duban.workflow(workspace.task_for(self.duban, user, task_id).task.workflow).name
                message = word(exc, lambda st: self.duban.state_label(wf, st),
                               lambda ev: self.duban.event_label(wf, ev))
                refused = Refused(action, exc, values, message)
                if back == "queue":
                    return self._queue(request, user, refused)
                if back == "inbox":
                    return self._inbox(request, user, refused)
                return self._task(request, user, task_id, refused)
            target_page = {"queue": "/queue", "inbox": "/inbox"}.get(back, f"/tasks/{task_id}")
            signed = f"&task={task_id}" if done == signoffs.SIGNOFF_EVENT else ""
            return RedirectResponse(f"{target_page}?done={quote(done)}{signed}", status_code=303)
        return await self.page(request, work)

    # ------------------------------------------------------------------ supervisors
    async def queue(self, request: Request) -> Response:
        return await self.page(request, lambda user: self._queue(request, user))

    def _queue(self, request: Request, user: UserView, refused: Refused | None = None) -> Response:
        supervising = user.role in SUPERVISING_ROLES
        if not self.has_queue(user):
            raise PermissionDenied(user.name, user.role, N_("open the supervisors' queue"),
                                   N_("only supervisors, admins and the leaders who sign a step of a sign-off chain may"))
        if supervising:
            states = sorted({st for name in self.duban.workflow_names()
                             for st in workspace.queue_states(self.duban.workflow(name))})
        else:  # a leader: the items whose sign-off chain awaits a step of the leader's
            states = sorted({st for name in self.duban.workflow_names() for st in self._signing_states(user, name)})
        waiting = self.duban.list_tasks(states=states, viewer=user.name, oldest_change_first=True, limit=200) if states else []
        # An item whose sign-off chain awaits a step ``user`` may sign is theirs to act on; one awaiting
        # someone else's step is listed apart, read only, with who is awaited (its button would be refused).
        # A supervisors' item with no chain (or the chain signed) is theirs as before.
        details, others = [], []
        for d in (workspace.task_for(self.duban, user, t.id) for t in waiting):
            if _awaits(d, user):
                details.append(d)
            elif d.signoffs and d.signoffs["awaiting"]:
                others.append(d)
            elif supervising:
                details.append(d)
        lookbacks = self.duban.lookback_list(due_only=True) if supervising else []
        extensions = self.duban.list_extension_requests(pending=True, viewer=user.name) if supervising else []
        status = status_of(refused.error) if refused else 200
        signed = None
        if request.query_params.get("done") == signoffs.SIGNOFF_EVENT:
            signed_id = _int(request.query_params.get("task"))
            if signed_id is not None:
                signed = _signed(workspace.task_for(self.duban, user, signed_id))
        # a refused form no longer on the page (a request decided meanwhile): its reason at the top
        shown = ({f"{kind}-{r.id}" for r in extensions for kind in ("approve", "deny")}
                 | {f"lookback-{lb.id}" for lb in lookbacks})
        on_page = refused is not None and (refused.form in shown or (
            refused.form.startswith("event-") and refused.values.get("task") in {str(d.task.id) for d in details}))
        return self.render(request, "queue.html", status, user=user, items=details, others=others, awaited=_awaited,
                           lookbacks=lookbacks, signed=signed,
                           extensions=extensions, supervising=supervising,
                           refused_elsewhere=refused is not None and not on_page,
                           refused=refused, image_types=IMAGE_TYPES, suffix=_suffix,
                           done=request.query_params.get("done"), event_label=self.duban.event_label,
                           requires=lambda wf, ev: self.duban.workflow(wf).events[ev].requires,
                           fires=lambda wf, ev: user.role in self.duban.workflow(wf).events[ev].roles)

    def _signing_states(self, user: UserView, workflow: str) -> list[str]:
        """The states of ``workflow`` left by an event whose sign-off chain has a step of ``user``'s role."""
        wf = self.duban.workflow(workflow)
        return [name for name in wf.states
                if (ev := signoffs.chained_event(wf, name)) is not None and any(st.role == user.role for st in ev.steps)]

    def has_queue(self, user: UserView) -> bool:
        """Whether ``user`` has a queue: a supervisor's or admin's, or a role that signs a step of some
        workflow's sign-off chain (a leader where a workflow has the leader sign)."""
        return user.role in SUPERVISING_ROLES or any(self._signing_states(user, name)
                                                      for name in self.duban.workflow_names())

    async def extension_action(self, request: Request, request_id: int, decision: str) -> Response:
        """Approve or deny a unit's extension request (延期申请) from the queue."""
        form = await self.form(request)
        values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}

        def work(user: UserView) -> Response:
            # a request on a task the user may not see is not found, as an unknown one is
            if not any(r.id == request_id for r in self.duban.list_extension_requests(viewer=user.name)):
                raise NotFound("extension request", request_id)
            try:
                if decision == "approve":
                    self.duban.approve_extension(user.name, request_id, values.get("note") or None)
                elif decision == "deny":
                    self.duban.deny_extension(user.name, request_id, values.get("reason", ""))
                else:
                    raise NotFound("action", decision)
            except NotFound:
                raise
            except DubanError as exc:
                message = word(exc, lambda st: st, lambda ev: ev)
                return self._queue(request, user, Refused(f"{decision}-{request_id}", exc, values, message))
            return RedirectResponse(f"/queue?done={quote(decision)}", status_code=303)
        return await self.page(request, work)

    async def lookback_action(self, request: Request, lookback_id: int) -> Response:
        form = await self.form(request)
        values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}

        def work(user: UserView) -> Response:
            try:
                self.duban.lookback_record(user.name, lookback_id, values.get("outcome") == "pass",
                                           values.get("note", ""), due=values.get("due") or None)
            except DubanError as exc:
                return self._queue(request, user, Refused(f"lookback-{lookback_id}", exc, values))
            return RedirectResponse("/queue?done=lookback", status_code=303)
        return await self.page(request, work)

    # ------------------------------------------------------------------ leaders
    async def dashboard(self, request: Request) -> Response:
        def work(user: UserView) -> Response:
            from engine.reports.dashboard import burndown_svg, traffic_light
            from engine.reports.progress import open_series, progress

            sees_all = self.duban.count_tasks(viewer=user.name) == self.duban.count_tasks()
            summary = self.duban.summary(viewer=user.name)
            report = series = lights = None
            if sees_all:
                report = progress(self.duban)
                start = min([c.feedback_date for c in self.duban.list_campaigns()] or [report.as_of])
                series = open_series(self.duban, min(start, report.as_of), report.as_of)
                lights = {t.code: traffic_light(self.duban, t, report.as_of) for t in report.tasks}
            # Two drawings of one series: a phone's (390 px) is drawn narrow, so that its axis labels are
            # shown near their own size instead of a desktop chart's shrunk to 6 px; CSS shows one.
            return self.render(request, "dashboard.html", user=user, summary=summary, report=report,
                               burndown=burndown_svg(series) if series else "",
                               burndown_phone=burndown_svg(series, width=PHONE_CHART[0], height=PHONE_CHART[1])
                               if series else "", lights=lights, sees_all=sees_all)
        return await self.page(request, work)

    async def items(self, request: Request) -> Response:
        """The items behind a figure: by code (from the dashboard) or by the task list's filters."""
        codes = [c for c in request.query_params.get("codes", "").split(",") if c]
        states = request.query_params.getlist("state")
        overdue = request.query_params.get("overdue") == "1"
        flagged = True if request.query_params.get("flagged") == "1" else None

        def work(user: UserView) -> Response:
            tasks = self.duban.list_tasks(states=states, overdue=overdue, flagged=flagged, viewer=user.name)
            if codes:
                wanted = set(codes)
                tasks = [t for t in tasks if t.code in wanted]
            return self.render(request, "inbox.html", user=user, tasks=tasks, show_all=True, title=_("Items"))
        return await self.page(request, work)

    async def evidence(self, request: Request, evidence_id: int) -> Response:
        inline = request.query_params.get("inline") == "1"

        def work(user: UserView) -> Response:
            found = workspace.evidence_file(self.duban, user, evidence_id)
            name = found.evidence.original_name
            kind = INLINE_TYPES.get(_suffix(name)) if inline else None
            disposition = "inline" if kind else "attachment"
            return FileResponse(found.path, media_type=kind or "application/octet-stream",
                                headers={"Content-Disposition": _content_disposition(disposition, name)})
        return await self.page(request, work)

    async def download(self, request: Request, name: str) -> Response:
        def work(user: UserView) -> Response:
            if user.role not in ("admin", "supervisor", "leader") or \
                    self.duban.count_tasks(viewer=user.name) != self.duban.count_tasks():
                raise PermissionDenied(user.name, user.role, f"download {name}",
                                       "the whole ledger is for those who may see every task")
            folder = Path(tempfile.mkdtemp(prefix="duban-download-"))
            cleanup = BackgroundTask(_remove_tree, folder)
            today = self.duban.today().isoformat()
            if name == "ledger.xlsx":
                from engine.ledger_io.exporter import export

                path = folder / f"整改台账-{today}.xlsx"
                export(self.duban, "xlsx", path)
            elif name == "notice.docx":
                from engine.reports.notice import build_notice, to_docx

                path = folder / f"整改进展情况通报-{today}.docx"
                path.write_bytes(to_docx(build_notice(self.duban, self.duban.today())))
            elif name == "binder.zip":
                from engine.ledger_io.binder import export_binder

                path = folder / f"整改资料册-{today}.zip"
                export_binder(self.duban, path)
            else:
                _remove_tree(folder)
                raise NotFound("download", name)
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return FileResponse(path, media_type=kind, background=cleanup,
                                headers={"Content-Disposition": _content_disposition("attachment", path.name)})
        return await self.page(request, work)


def _awaits(detail: Any, user: UserView) -> bool:
    """Whether the task's sign-off chain awaits a step ``user`` may sign (its role, and its unit where the
    step names one); the machine decides again when the user signs."""
    chain = detail.signoffs
    if not chain or not chain["awaiting"]:
        return False
    step = chain["steps"][chain["awaiting"] - 1]
    return bool(step["role"] == user.role and (step["scope"] == "any" or step["unit"] == user.unit))


def _awaited(detail: Any) -> str:
    """Who the task's sign-off chain awaits, in the language in use: 一名办公室的领导."""
    step = detail.signoffs["steps"][detail.signoffs["awaiting"] - 1]
    return str(signer_phrase(step["role"], step["unit"]))


def _request_status(request: ExtensionRequestView) -> str:
    """An extension request's status as people read it (the words of ``duban extension list``)."""
    words = {"pending": pgettext("extension request", "pending"),
             "approved": pgettext("extension request", "approved"),
             "denied": pgettext("extension request", "denied"),
             "lapsed": pgettext("extension request", "lapsed")}
    return words.get(request.status, request.status)


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never another host (``//evil``, ``https://…``)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return ""


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


def _basename(name: str | None) -> str:
    """The file's own name, without any folder a browser sent."""
    return (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip() or "upload"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _content_disposition(kind: str, name: str) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name; no quote, path or line break survives."""
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\/;' else "_" for c in name)
    return f"{kind}; filename=\"{ascii_name or 'file'}\"; filename*=UTF-8''{quote(name, safe='')}"


def _signed(detail: Any) -> str | None:
    """已签（第1步/共3步），待…: the last sign-off of the task's chain and the step it awaits now."""
    chain = detail.signoffs
    steps = [st["step"] for st in chain["steps"] if st["signer"]] if chain else []
    return f"{detail.task.code}: {signoffs.signed_phrase(chain, max(steps))}" if steps else None
