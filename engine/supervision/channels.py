"""Where reminders go: console (the log), a JSON-lines outbox file, e-mail (SMTP with STARTTLS or
SSL) and webhooks (generic JSON, WeCom and DingTalk group robots).

Channels are configured in the config file's ``[channels.*]`` tables; passwords are never written
there, only the name of the environment variable holding them (``password_env``). A send either
returns or raises ``DeliveryError``: the caller records the outcome, so nothing fails silently.

Cheap local channels (console, file) also take a whole batch at once: ``send_many(msgs)`` returns
one outcome per message (None: delivered, else the error), and the caller marks the delivered ones
in one UPDATE. The file channel writes the batch with one ``write`` and one fsync. Network channels
(e-mail, webhook) send one message at a time, each marked right after its send.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.core.config import Settings
from engine.core.errors import DubanError, InvalidInput
from engine.core.urls import mask_url, mask_urls

log = logging.getLogger("duban.reminders")

CHANNEL_NAMES = ("console", "file", "email", "webhook")
WEBHOOK_FORMATS = ("json", "wecom", "dingtalk")
SMTP_SECURITY = ("starttls", "ssl", "none")
KEY_HEADER = "X-Duban-Reminder-Key"


class DeliveryError(DubanError):
    """A send that did not go through; the reminder is retried with backoff."""


@dataclass(frozen=True)
class Outgoing:
    """One delivery: the claimed reminder row as a channel sees it."""

    key: str
    recipient: str
    address: str | None
    text: str
    task_id: int | None = None
    rule: str = ""
    target: str | None = None
    # An earlier attempt of this message may have reached the channel (its sender died, or failed,
    # after handing it over): a channel that can tell (the file outbox) does not deliver it twice.
    resend: bool = False

    @property
    def subject(self) -> str:
        return self.text.split("\n", 1)[0].lstrip("#* ").strip()


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str | None = None
    webhook: str | None = None


class Channel(Protocol):
    name: str

    def address(self, who: Recipient) -> str | None | bool:
        """Where this channel reaches ``who``: an address, True (reaches everyone, no address) or
        None/False (cannot reach them)."""
        ...

    def send(self, msg: Outgoing) -> None: ...

    # Optional, for cheap local channels: ``send_many(msgs) -> list[str | None]``, one outcome per
    # message (None: delivered; a string: why not). Channels without it are sent one by one.


class ConsoleChannel:
    name = "console"

    def address(self, who: Recipient) -> bool:
        return True

    def send(self, msg: Outgoing) -> None:
        log.warning("reminder to %s: %s", msg.recipient, msg.text.replace("\n", " | "))

    def send_many(self, msgs: Sequence[Outgoing]) -> list[str | None]:
        for msg in msgs:
            self.send(msg)
        return [None] * len(msgs)


def _line(msg: Outgoing) -> str:
    # "key" first: a resend is recognised by the start of its line (FileChannel._present).
    return json.dumps({"key": msg.key, "recipient": msg.recipient, "task_id": msg.task_id, "rule": msg.rule,
                       "target": msg.target, "subject": msg.subject, "text": msg.text}, ensure_ascii=False)


class FileChannel:
    """Appends one JSON object per line; another program can tail the outbox and forward it.

    A batch is written with one ``write`` to the file opened for appending and made durable with
    one fsync before the call returns. A message marked ``resend`` (an earlier attempt may have
    written it: its sender died between the fsync and marking it sent) is not written again when
    its key is in the outbox already, so a crash does not duplicate lines — unless the outbox was
    moved away or truncated in between (then it is resent, under the same key). A line left
    unfinished by a crash is closed with a newline before the next batch, so it never swallows
    the next message.
    """

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def address(self, who: Recipient) -> bool:
        return True

    def send(self, msg: Outgoing) -> None:
        error = self.send_many([msg])[0]
        if error is not None:
            raise DeliveryError(error)

    def send_many(self, msgs: Sequence[Outgoing]) -> list[str | None]:
        if not msgs:
            return []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                present = self._present([m.key for m in msgs if m.resend])
                data = "".join(_line(m) + "\n" for m in msgs if m.key not in present).encode("utf-8")
                size = os.fstat(fd).st_size
                if data and size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # a crash left half a line: end it, it stays unparseable
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                # Also when everything was present: those lines may not have reached the disk yet.
                os.fdatasync(fd) if hasattr(os, "fdatasync") else os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            return [f"outbox {self.path}: {exc}"] * len(msgs)
        return [None] * len(msgs)

    def _present(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` have a complete line in the outbox (read through once; only for resends)."""
        if not keys:
            return set()
        wanted = {('{"key": ' + json.dumps(k, ensure_ascii=False) + ",").encode("utf-8"): k for k in keys}
        prefixes = tuple(wanted)
        found: set[str] = set()
        try:
            with self.path.open("rb") as f:
                for line in f:
                    if line.startswith(prefixes) and line.endswith(b"\n"):
                        try:
                            key = json.loads(line)["key"]
                        except (ValueError, KeyError, TypeError):
                            continue
                        if key in keys:
                            found.add(key)
        except FileNotFoundError:
            pass
        return found


class EmailChannel:
    name = "email"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.host = str(cfg["host"])
        self.security = str(cfg.get("security", "starttls"))
        self.port = int(cfg.get("port", 465 if self.security == "ssl" else 587 if self.security == "starttls" else 25))
        self.username = cfg.get("username")
        self.password_env = cfg.get("password_env")
        self.sender = str(cfg.get("sender") or self.username or f"duban@{self.host}")
        self.timeout = float(cfg.get("timeout", 30))
        self.ca_file = cfg.get("ca_file")

    def address(self, who: Recipient) -> str | None:
        return who.email

    def _context(self) -> Any:
        import ssl

        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else ssl.create_default_context()

    def send(self, msg: Outgoing) -> None:
        import smtplib
        from email.message import EmailMessage
        from email.utils import formatdate

        if not msg.address:
            raise DeliveryError(f"recipient {msg.recipient} has no e-mail address")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = msg.address
        mail["Subject"] = msg.subject
        mail["Date"] = formatdate(localtime=False)
        # Derived from the claim key: a receiver can drop a resend (see engine/supervision/reminders.py).
        mail["Message-ID"] = f"<{_safe_id(msg.key)}@duban>"
        mail[KEY_HEADER] = msg.key
        mail.set_content(msg.text)
        password = None
        if self.password_env:
            password = os.environ.get(str(self.password_env))
            if password is None:
                raise DeliveryError(f"SMTP password variable {self.password_env} is not set")
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                      context=self._context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._context())
                if self.username and password is not None:
                    smtp.login(str(self.username), password)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc}") from None


class WebhookChannel:
    """HTTP POST. ``json``: duban's own fields; ``wecom`` / ``dingtalk``: the markdown message of
    those group robots (whose HTTP 200 carries an ``errcode`` that must be 0)."""

    name = "webhook"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.format = str(cfg.get("format", "json"))
        self.url = cfg.get("url")
        self.timeout = float(cfg.get("timeout", 10))

    def address(self, who: Recipient) -> str | None:
        return who.webhook or self.url

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        if self.format == "wecom":
            return {"msgtype": "markdown", "markdown": {"content": msg.text}}
        if self.format == "dingtalk":
            return {"msgtype": "markdown", "markdown": {"title": msg.subject, "text": msg.text}}
        return {"key": msg.key, "recipient": msg.recipient, "task_id": msg.task_id, "rule": msg.rule,
                "target": msg.target, "subject": msg.subject, "text": msg.text}

    def send(self, msg: Outgoing) -> None:
        import httpx

        if not msg.address:
            raise DeliveryError(f"recipient {msg.recipient} has no webhook URL")
        try:
            response = httpx.post(msg.address, json=self.payload(msg), timeout=self.timeout,
                                  headers={KEY_HEADER: msg.key})
        except httpx.HTTPError as exc:
            raise DeliveryError(mask_urls(f"webhook {mask_url(msg.address)}: {exc}")) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(mask_urls(f"webhook {mask_url(msg.address)}: HTTP {response.status_code} "
                                          f"{response.text[:200]}"))
        if self.format in ("wecom", "dingtalk"):
            try:
                errcode = response.json().get("errcode", 0)
            except (ValueError, AttributeError):
                errcode = 0
            if errcode:
                raise DeliveryError(mask_urls(f"webhook {mask_url(msg.address)}: errcode {errcode}: "
                                              f"{response.text[:200]}"))


@dataclass
class Channels:
    """The configured channels, in the order they are tried for a recipient."""

    channels: list[Channel] = field(default_factory=list)

    def routes(self, who: Recipient) -> list[tuple[Channel, str | None]]:
        """(channel, address) for every channel that reaches ``who``; console if none does, so a
        reminder is never dropped for want of an address."""
        out: list[tuple[Channel, str | None]] = []
        for ch in self.channels:
            addr = ch.address(who)
            if addr is True:
                out.append((ch, None))
            elif addr:
                out.append((ch, str(addr)))
        if not out:
            out.append((ConsoleChannel(), None))
        return out

    def get(self, name: str) -> Channel:
        for ch in self.channels:
            if ch.name == name:
                return ch
        if name == "console":
            return ConsoleChannel()
        raise DeliveryError(f"channel {name!r} is not configured any more (config [channels.{name}])")


def load_channels(settings: Settings) -> Channels:
    """The ``[channels]`` section as channel objects; no section at all means the console only."""
    raw = settings.section("channels")
    where = str(settings.source or "config")
    if not raw:
        return Channels([ConsoleChannel()])
    out: list[Channel] = []
    for name, cfg in raw.items():
        key = f"{where}: channels.{name}"
        if name not in CHANNEL_NAMES:
            raise InvalidInput(key, name, f"unknown channel; expected one of {', '.join(CHANNEL_NAMES)}")
        if not isinstance(cfg, dict):
            raise InvalidInput(key, cfg, "expected a table")
        if cfg.get("enabled", True) is False:
            continue
        if name == "console":
            out.append(ConsoleChannel())
        elif name == "file":
            if not cfg.get("path"):
                raise InvalidInput(f"{key}.path", cfg.get("path"), "expected the path of the JSON-lines outbox")
            out.append(FileChannel(Path(str(cfg["path"])).expanduser()))
        elif name == "email":
            if not cfg.get("host"):
                raise InvalidInput(f"{key}.host", cfg.get("host"), "expected the SMTP server's host name")
            if cfg.get("security", "starttls") not in SMTP_SECURITY:
                raise InvalidInput(f"{key}.security", cfg.get("security"), f"expected one of {', '.join(SMTP_SECURITY)}")
            if "password" in cfg:
                raise InvalidInput(f"{key}.password", "***", "passwords are not kept in the config file: set "
                                   "password_env = \"DUBAN_SMTP_PASSWORD\" and put the password in that variable")
            try:
                out.append(EmailChannel(cfg))
            except (TypeError, ValueError) as exc:
                raise InvalidInput(key, {k: v for k, v in cfg.items() if k != "password"},
                                   f"port and timeout must be numbers ({exc})") from None
        elif name == "webhook":
            if cfg.get("format", "json") not in WEBHOOK_FORMATS:
                raise InvalidInput(f"{key}.format", cfg.get("format"), f"expected one of {', '.join(WEBHOOK_FORMATS)}")
            try:
                out.append(WebhookChannel(cfg))
            except (TypeError, ValueError) as exc:
                raise InvalidInput(key, mask(cfg), f"timeout must be a number of seconds ({exc})") from None
    return Channels(out)


# ---------------------------------------------------------------------- config show
_SECRET_KEY = re.compile(r"pass|secret|token|api_?key|credential", re.IGNORECASE)


def mask(value: Any, key: str = "") -> Any:
    """Secrets replaced by ``***``: secret-looking keys, URL query tokens and URL passwords."""
    if isinstance(value, dict):
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if key.endswith("_env"):
        return value  # the NAME of the variable, not its value
    if _SECRET_KEY.search(key) and not isinstance(value, bool) and value not in (None, ""):
        return "***"
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    return value


def _safe_id(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()[:32]
