"""What protects the workspace beyond the engine's rules: security headers, the upload limit, the
session key and CSRF tokens."""

from __future__ import annotations

import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script, no script or style from elsewhere; only our own pages may frame our files
# (the PDF preview of an evidence file); forms post only to us.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "object-src 'none'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(k, v) for k, v in HEADERS if k not in present]
                if scope["path"].startswith(("/api/", "/login", "/tasks", "/evidence", "/queue", "/inbox")):
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, with_headers)


class UploadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(413, f"the upload is larger than {limit / 1024 / 1024:,.0f} MB, the limit "
                              "([web] max_upload_mb in the config)")


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413: by its Content-Length before reading it,
    and by counting while it is read when the length is not given."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _send_too_large(scope, send, self.limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise UploadTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


async def _send_too_large(scope: Scope, send: Send, limit: int) -> None:
    from web.problems import PROBLEM_TYPE, problem

    detail = UploadTooLarge(limit).detail
    if scope["path"].startswith("/api/"):
        body = json.dumps(problem(413, detail, code="upload_too_large", limit_bytes=limit),
                          ensure_ascii=False).encode()
        kind = PROBLEM_TYPE.encode()
    else:
        from html import escape

        body = f"<!DOCTYPE html><title>413</title><p>{escape(detail)}</p>".encode()
        kind = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def session_secret(path: Path) -> str:
    """The key that signs session cookies: made once (readable by its owner only), shared by every
    worker process that reads the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return _read_secret(path)
    secret = secrets.token_urlsafe(48)
    # Written whole to a private temporary file, then linked into place: a worker starting beside
    # this one never reads a file that exists but is still empty (it took that for a damaged key).
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".web-session-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secret + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:  # another worker made it first: use its key
            return _read_secret(path)
    finally:
        os.unlink(tmp)
    return secret


def _read_secret(path: Path) -> str:
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) >= 32:
        return secret
    raise RuntimeError(f"the session key file {path} is damaged: remove it to make a new one")


def csrf_token(session: dict[str, Any]) -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(session: dict[str, Any], given: str | None) -> bool:
    expected = session.get("csrf")
    return isinstance(expected, str) and isinstance(given, str) and bool(given) and hmac.compare_digest(expected, given)
