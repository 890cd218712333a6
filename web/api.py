"""The JSON API under /api/v1: bearer tokens from ``duban user token NAME``, task JSON with the keys
of ``duban task show --json``, errors as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from engine import accounts, workspace
from engine.core.errors import DubanError, NotFound
from engine.core.views import UserView
from engine.i18n import language
from web.problems import PROBLEM_TYPE, problem, problem_of
from web.security import UploadTooLarge

T = TypeVar("T")

_PROBLEM = {"description": "RFC 9457 problem details with the refusal's structured fields",
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_ERRORS: dict[int | str, dict[str, Any]] = {code: _PROBLEM for code in (401, 403, 404, 422)}


class ApiProblem(Exception):
    def __init__(self, status: int, detail: str, code: str, **fields: Any) -> None:
        self.status, self.body = status, problem(status, detail, code=code, **fields)


class EventBody(BaseModel):
    """The inputs of a workflow event; which it needs is the workflow's (``duban workflow show``)."""

    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(None, description="The task version you read: a stale one gets 409 and changes nothing")
    note: str | None = None
    plan: str | None = Field(None, description="Follow-up plan (finishing in phases)")
    # Text, parsed by the engine as every front's dates are (YYYY-MM-DD, YYYY/MM/DD, YYYY年M月D日): a bad
    # one is the engine's refusal naming the input (422), the same words as the CLI's and the workspace's.
    target: str | None = Field(None, description="Target date of the follow-up plan: YYYY-MM-DD")
    reason: str | None = Field(None, description="Reason (sending back, reopening)")
    due: str | None = Field(None, description="New deadline: DATE, Nd or Nwd")
    inputs: dict[str, str | int | None] | None = Field(
        None, description="The workflow's declared fields the event sets, by name (a suggestion's reply: "
                          "reply_class, reply_text); a choice by its value or label")


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    version: int | None = None


class AckBody(BaseModel):
    """A receipt (签收): once, by a user of the task's unit (the workflow's ``[permissions] ack``)."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = None
    version: int | None = None


class ExtensionRequestBody(BaseModel):
    """A unit's request for a later deadline (延期申请); a supervisor approves or denies it."""

    model_config = ConfigDict(extra="forbid")
    due: str = Field(description="The deadline asked for: DATE, Nd or Nwd")
    reason: str
    version: int | None = None


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, description="A note for the record (approving)")
    reason: str | None = Field(None, description="Why (denying: required, and sent to the unit)")


def build_api(duban: Any) -> FastAPI:
    api = FastAPI(title="duban API", version="1", openapi_url="/openapi.json", docs_url=None, redoc_url=None,
                  description="The ledger of supervised tasks (督办), as the acting user may see it. "
                              "Authenticate with 'Authorization: Bearer TOKEN' (duban user token NAME).")

    def authenticate(request: Request) -> UserView:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiProblem(401, "send 'Authorization: Bearer TOKEN' (a token from 'duban user token NAME')",
                             "not_authenticated")
        return accounts.check_token(duban, token.strip())

    @contextmanager
    def acting(request: Request) -> Iterator[UserView]:
        with language(request.state.lang):
            user = authenticate(request)
            with workspace.acting_as(duban, user.name):
                yield user

    def visible(user: UserView, task_id: int) -> Any:
        return workspace.task_for(duban, user, task_id)

    @api.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body, status_code=exc.status, media_type=PROBLEM_TYPE, headers=headers)

    @api.exception_handler(DubanError)
    async def _refused(request: Request, exc: DubanError) -> JSONResponse:
        status, body = problem_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg")}
                  for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return JSONResponse(problem(422, detail, code="invalid_request", errors=errors), status_code=422,
                            media_type=PROBLEM_TYPE)

    @api.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = "upload_too_large" if isinstance(exc, UploadTooLarge) else f"http_{exc.status_code}"
        return JSONResponse(problem(exc.status_code, str(exc.detail), code=code), status_code=exc.status_code,
                            media_type=PROBLEM_TYPE)

    def run(request: Request, work: Callable[[UserView], T]) -> T:
        with acting(request) as user:
            return work(user)

    @api.get("/tasks", responses=_ERRORS, summary="Tasks the user may see, earliest deadline first")
    def list_tasks(request: Request, state: list[str] = Query(default=[]), unit: str | None = None,
                   overdue: bool = False, flagged: bool | None = None, campaign: str | None = None,
                   limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0)) -> JSONResponse:
        def work(user: UserView) -> JSONResponse:
            found = duban.list_tasks(states=state, unit=unit, overdue=overdue, flagged=flagged, campaign=campaign,
                                     limit=limit, offset=offset, viewer=user.name)
            return JSONResponse([t.as_dict() for t in found])
        return run(request, work)

    @api.get("/tasks/{task_id}", responses=_ERRORS, summary="One task: the keys of 'duban task show --json'")
    def show_task(request: Request, task_id: int) -> JSONResponse:
        return run(request, lambda user: JSONResponse(visible(user, task_id).as_dict()))

    @api.get("/tasks/{task_id}/history", responses=_ERRORS, summary="The task's trail records, oldest first")
    def history(request: Request, task_id: int) -> JSONResponse:
        return run(request, lambda user: JSONResponse([r.as_dict() for r in visible(user, task_id).history]))

    @api.post("/tasks/{task_id}/events/{event}", responses={**_ERRORS, 409: _PROBLEM},
              summary="Fire a workflow event (start, phase, complete, review, return …)")
    def fire(request: Request, task_id: int, event: str, body: EventBody) -> JSONResponse:
        def work(user: UserView) -> JSONResponse:
            visible(user, task_id)
            duban.fire(user.name, task_id, event, note=body.note, plan=body.plan, target=body.target,
                       reason=body.reason, due=body.due, expected_version=body.version, inputs=body.inputs)
            return JSONResponse(visible(user, task_id).as_dict())
        return run(request, work)

    @api.post("/tasks/{task_id}/notes", status_code=201, responses={**_ERRORS, 409: _PROBLEM},
              summary="Add a progress note")
    def add_note(request: Request, task_id: int, body: NoteBody) -> JSONResponse:
        def work(user: UserView) -> JSONResponse:
            visible(user, task_id)
            note = duban.add_note(user.name, task_id, body.text, expected_version=body.version)
            return JSONResponse(note.as_dict(), status_code=201)
        return run(request, work)

    @api.post("/tasks/{task_id}/evidence", status_code=201, responses={**_ERRORS, 413: _PROBLEM},
              summary="Upload an evidence file (multipart: file, note)")
    def add_evidence(request: Request, task_id: int, file: UploadFile = File(...),
                     note: str | None = Form(None)) -> JSONResponse:
        def work(user: UserView) -> JSONResponse:
            visible(user, task_id)
            data = file.file.read()
            name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1] or "upload"
            view = duban.add_evidence_bytes(user.name, task_id, name, data, note=note or None)
            return JSONResponse(view.as_dict(), status_code=201)
        return run(request, work)

    @api.post("/tasks/{task_id}/ack", responses={**_ERRORS, 409: _PROBLEM},
              summary="Acknowledge receipt (签收) of a task for its unit: once")
    def ack(request: Request, task_id: int, body: AckBody) -> JSONResponse:
        def work(user: UserView) -> JSONResponse:
            visible(user, task_id)
            duban.ack(user.name, task_id, note=body.note, expected_version=body.version)
            return JSONResponse(visible(user, task_id).as_dict())
        return run(request, work)

    @api.post("/tasks/{task_id}/extension-requests", status_code=201, responses={**_ERRORS, 409: _PROBLEM},
              summary="Ask for a later deadline (延期申请): pending until a supervisor decides")
    def request_extension(request: Request, task_id: int, body: ExtensionRequestBody) -> JSONResponse:
        def work(user: UserView) -> JSONResponse:
            visible(user, task_id)
            view = duban.request_extension(user.name, task_id, body.due, body.reason, expected_version=body.version)
            return JSONResponse(view.as_dict(), status_code=201)
        return run(request, work)

    @api.get("/extension-requests", responses=_ERRORS, summary="Extension requests on tasks the user may see, oldest first")
    def extension_requests(request: Request, pending: bool = False) -> JSONResponse:
        def work(user: UserView) -> JSONResponse:
            found = duban.list_extension_requests(pending=pending, viewer=user.name)
            return JSONResponse([r.as_dict() for r in found])
        return run(request, work)

    def decided(user: UserView, request_id: int) -> Any:
        """The request as the user may see it; on a task they may not see it is not found."""
        found = next((r for r in duban.list_extension_requests(viewer=user.name) if r.id == request_id), None)
        if found is None:
            raise NotFound("extension request", request_id)
        return found

    @api.post("/extension-requests/{request_id}/approve", responses={**_ERRORS, 409: _PROBLEM},
              summary="Approve an extension request: the task's deadline moves to the date asked for")
    def approve_extension(request: Request, request_id: int, body: DecisionBody) -> JSONResponse:
        def work(user: UserView) -> JSONResponse:
            decided(user, request_id)
            duban.approve_extension(user.name, request_id, body.note)
            return JSONResponse(decided(user, request_id).as_dict())
        return run(request, work)

    @api.post("/extension-requests/{request_id}/deny", responses={**_ERRORS, 409: _PROBLEM},
              summary="Deny an extension request with a reason; the unit is told")
    def deny_extension(request: Request, request_id: int, body: DecisionBody) -> JSONResponse:
        def work(user: UserView) -> JSONResponse:
            decided(user, request_id)
            return JSONResponse(duban.deny_extension(user.name, request_id, body.reason or "").as_dict())
        return run(request, work)

    @api.get("/summary", responses=_ERRORS, summary="The figures of the tasks the user may see")
    def summary(request: Request, campaign: str | None = None) -> JSONResponse:
        return run(request, lambda user: JSONResponse(duban.summary(campaign=campaign, viewer=user.name)))

    schema = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            doc = schema()
            doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
                "type": "object", "required": ["type", "title", "status", "detail"],
                "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                               "status": {"type": "integer"}, "detail": {"type": "string"},
                               "code": {"type": "string"}},
                "additionalProperties": True}
            doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            doc["security"] = [{"bearer": []}]
            api.openapi_schema = doc
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api
