"""Where reminders go: channels behind one interface, chosen by kind from a registry (APScheduler's
plug-in style). Built in: ``console`` (the log), ``file`` (a JSON-lines outbox), ``email`` (SMTP with
STARTTLS or SSL); engine/supervision/robots.py adds the HTTP robots ``webhook`` (generic JSON,
optionally HMAC-signed), ``wecom``, ``dingtalk`` and ``feishu``. Another kind is one
``register_kind(kind, factory)`` call (engine/supervision/channel_base.py holds the interface and
the registry).

Channels are configured in the config file: ``[channels.console]``, ``[channels.file]``,
``[channels.email]``, the one unnamed robot ``[channels.webhook]`` (``format`` = its kind) and any
number of named robots ``[channels.robots.NAME]`` (``kind``). Passwords and robot secrets are best
kept out of the file: ``password_env`` / ``secret_env`` name the environment variable holding them.
A send either returns or raises ``DeliveryError``: the caller records the outcome, so nothing fails
silently.

Cheap local channels (console, file) also take a whole batch at once: ``send_many(msgs)`` returns
one outcome per message (None: delivered, else the error), and the caller marks the delivered ones
in one UPDATE. The file channel writes the batch with one ``write`` and one fsync. Network channels
(e-mail, robots) send one message at a time, each marked right after its send.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.config import Settings
from engine.core.errors import InvalidInput, Phrase, config_key
from engine.i18n import N_
from engine.core.urls import mask_url, redact
from engine.supervision.channel_base import (  # noqa: F401  (re-exported: the interface beside its channels)
    KEY_HEADER,
    Channel,
    ChannelFactory,
    Contact,
    DeliveryError,
    Outgoing,
    Recipient,
    register_kind,
    registered,
    secret_value,
)

log = logging.getLogger("duban.reminders")

SMTP_SECURITY = ("starttls", "ssl", "none")
# Names a named robot may not take: they are the tables of the built-in channels.
RESERVED_NAMES = ("console", "file", "email", "webhook", "robots")


def channel_kinds() -> tuple[str, ...]:
    """Every registered kind: the built-in ones here and in robots.py, and any registered since."""
    import engine.supervision.robots  # noqa: F401  (registers webhook, wecom, dingtalk, feishu)

    return tuple(registered())


def factory(kind: str, key: str) -> ChannelFactory:
    channel_kinds()
    kinds = registered()
    if kind not in kinds:
        raise InvalidInput(config_key(key), kind, Phrase(N_("unknown channel kind; expected one of {kinds}"),
                                                         kinds=", ".join(kinds)))
    return kinds[kind]


class ConsoleChannel:
    name = kind = "console"

    def describe(self) -> dict[str, Any]:
        return {}

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

    name = kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path)}

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
    name = kind = "email"

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

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"host": self.host, "port": self.port, "security": self.security,
                               "sender": self.sender}
        if self.password_env:
            out["password_set"] = os.environ.get(str(self.password_env)) is not None
        return out

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
        except (OSError, smtplib.SMTPException) as exc:  # a server may quote the login it refused
            raise DeliveryError(redact(f"SMTP {self.host}:{self.port}: {exc}", (password,))) from None


register_kind("console", lambda name, cfg, key: ConsoleChannel())
register_kind("file", lambda name, cfg, key: _file_channel(cfg, key))
register_kind("email", lambda name, cfg, key: _email_channel(cfg, key))


def _file_channel(cfg: Mapping[str, Any], key: str) -> FileChannel:
    if not cfg.get("path"):
        raise InvalidInput(config_key(f"{key}.path"), cfg.get("path"),
                           Phrase(N_("expected the path of the JSON-lines outbox")))
    return FileChannel(Path(str(cfg["path"])).expanduser())


def _email_channel(cfg: Mapping[str, Any], key: str) -> EmailChannel:
    if not cfg.get("host"):
        raise InvalidInput(config_key(f"{key}.host"), cfg.get("host"), Phrase(N_("expected the SMTP server's host name")))
    if cfg.get("security", "starttls") not in SMTP_SECURITY:
        raise InvalidInput(config_key(f"{key}.security"), cfg.get("security"),
                           Phrase(N_("expected one of {choices}"), choices=", ".join(SMTP_SECURITY)))
    if "password" in cfg:
        raise InvalidInput(config_key(f"{key}.password"), "***", Phrase(N_(
            "passwords are not kept in the config file: set password_env = \"DUBAN_SMTP_PASSWORD\" and put the "
            "password in that variable")))
    try:
        return EmailChannel(cfg)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(config_key(key), mask(cfg), Phrase(N_("port and timeout must be numbers"))) from None


ROUTE_ROLES = ("unit", "leader", "supervisor")
ROUTE_KINDS = ("remind", "escalate", "review", "lookback", "digest", "receipt", "extension")


def reminder_kind(rule: str) -> str:
    """What a route's ``kind`` calls a reminder rule: remind, escalate, review, lookback, digest, receipt
    or extension."""
    if rule.startswith("escalate"):
        return "escalate"
    if rule == "review_wait":
        return "review"
    if rule in ("lookback", "digest", "receipt"):
        return rule
    if rule.startswith("extension"):  # an answer to a unit's extension request (extension_denied)
        return "extension"
    return "remind"  # before:…, on_day, overdue


@dataclass(frozen=True)
class Route:
    """One ``[[routes]]`` entry: the first whose filters all match a reminder decides where it goes."""

    to: tuple[str, ...]
    unit: str | None = None
    role: str | None = None
    kind: str | None = None

    def matches(self, unit: str | None, role: str, kind: str) -> bool:
        return ((self.unit is None or self.unit == unit) and (self.role is None or self.role == role)
                and (self.kind is None or self.kind == kind))


@dataclass(frozen=True)
class Destination:
    """One claim's worth of delivery: who it is for, the channel, the address, whom it @-mentions."""

    recipient: str
    channel: Channel
    address: str | None
    mentions: tuple[Contact, ...] = ()


@dataclass
class Channels:
    """The configured channels, in the order they are tried for a recipient, and the routes."""

    channels: list[Channel] = field(default_factory=list)
    routes_table: list[Route] = field(default_factory=list)

    def routes(self, who: Recipient) -> list[tuple[Channel, str | None]]:
        """(channel, address) for every per-person channel that reaches ``who``; console if none
        does, so a reminder is never dropped for want of an address."""
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

    def chosen(self, unit: str | None, role: str, kind: str) -> list[Channel]:
        """The channels a reminder goes to: the first matching route's, else (no routes) all."""
        if not self.routes_table:
            return list(self.channels)
        for route in self.routes_table:
            if route.matches(unit, role, kind):
                return [self.get(name) for name in route.to]
        return [ConsoleChannel()]  # routes that match nothing: logged, listed, never dropped

    def destinations(self, label: str, people: Sequence[Recipient], *, unit: str | None, role: str,
                     kind: str) -> list[Destination]:
        """Where one reminder for ``people`` (the audience ``label``, e.g. ``unit:财务科``) goes.

        A group robot gets ONE message for the audience, @-mentioning its people; per-person
        channels (e-mail, console, file, a user's own webhook) one per person they reach."""
        out: list[Destination] = []
        reached: set[str] = set()
        for ch in self.chosen(unit, role, kind):
            if getattr(ch, "group", False):
                rest = []
                for who in people:
                    own = ch.address(who)
                    if getattr(ch, "per_user", False) and own and own != getattr(ch, "url", None):
                        out.append(Destination(who.name, ch, str(own), _contacts([who])))
                        reached.add(who.name)
                    else:
                        rest.append(who)
                if rest and getattr(ch, "url", None):
                    out.append(Destination(label, ch, str(ch.url), _contacts(rest)))
                    reached.update(w.name for w in rest)
                continue
            for who in people:
                addr = ch.address(who)
                if addr is True or addr:
                    out.append(Destination(who.name, ch, None if addr is True else str(addr)))
                    reached.add(who.name)
        # Someone no chosen channel reaches still gets the reminder, in the log: never dropped.
        out += [Destination(who.name, ConsoleChannel(), None) for who in people if who.name not in reached]
        return out

    def get(self, name: str) -> Channel:
        for ch in self.channels:
            if ch.name == name:
                return ch
        if name == "console":
            return ConsoleChannel()
        raise DeliveryError(f"channel {name!r} is not configured any more (config [channels.{name}] "
                            f"or [channels.robots.{name}])")


def _contacts(people: Sequence[Recipient]) -> tuple[Contact, ...]:
    return tuple(w.contact for w in people if w.contact is not None and (
        w.contact.mobile or w.contact.email or w.contact.wecom_id or w.contact.dingtalk_id or w.contact.feishu_id))


def contacts_json(contacts: Sequence[Contact]) -> str | None:
    if not contacts:
        return None
    return json.dumps([{k: v for k, v in c.__dict__.items() if v is not None} for c in contacts], ensure_ascii=False)


def contacts_from_json(text: str | None) -> tuple[Contact, ...]:
    if not text:
        return ()
    try:
        return tuple(Contact(**item) for item in json.loads(text))
    except (ValueError, TypeError):
        return ()


def load_routes(settings: Settings, channels: Sequence[Channel]) -> list[Route]:
    """``[[routes]]``: each names channels that exist; filters optional; first match wins."""
    raw = settings.raw.get("routes", [])
    where = str(settings.source or "config")
    if not isinstance(raw, list):
        raise InvalidInput(config_key(f"{where}: routes"), mask(raw), Phrase(N_("expected [[routes]] tables")))
    names = {ch.name for ch in channels} | {"console"}
    out = []
    for n, item in enumerate(raw, 1):
        key = f"{where}: routes[{n}]"
        if not isinstance(item, dict):
            raise InvalidInput(config_key(key), mask(item), Phrase(N_("expected a table")))
        unknown = sorted(set(item) - {"unit", "role", "kind", "to"})
        if unknown:
            raise InvalidInput(config_key(f"{key}.{unknown[0]}"), item[unknown[0]],
                               Phrase(N_("unknown key; expected unit, role, kind, to")))
        to = item.get("to")
        if isinstance(to, str):
            to = [to]
        if not to or not isinstance(to, list) or not all(isinstance(x, str) for x in to):
            raise InvalidInput(config_key(f"{key}.to"), to,
                               Phrase(N_("expected a list of robot names, or email / console / file")))
        for name in to:
            if name not in names:
                raise InvalidInput(config_key(f"{key}.to"), name, Phrase(
                    N_("no such channel is configured (expected one of {choices})"), choices=", ".join(sorted(names))))
        if item.get("role") is not None and item["role"] not in ROUTE_ROLES:
            raise InvalidInput(config_key(f"{key}.role"), item["role"],
                               Phrase(N_("expected one of {choices}"), choices=", ".join(ROUTE_ROLES)))
        if item.get("kind") is not None and item["kind"] not in ROUTE_KINDS:
            raise InvalidInput(config_key(f"{key}.kind"), item["kind"],
                               Phrase(N_("expected one of {choices}"), choices=", ".join(ROUTE_KINDS)))
        out.append(Route(tuple(dict.fromkeys(to)), item.get("unit"), item.get("role"), item.get("kind")))
    return out


def load_channels(settings: Settings) -> Channels:
    """The ``[channels]`` section as channel objects; no section at all means the console only."""
    raw = settings.section("channels")
    where = str(settings.source or "config")
    if not raw:
        return Channels([ConsoleChannel()], load_routes(settings, [ConsoleChannel()]))
    out: list[Channel] = []
    for name, cfg in raw.items():
        key = f"{where}: channels.{name}"
        if not isinstance(cfg, dict):
            raise InvalidInput(config_key(key), mask(cfg), Phrase(N_("expected a table")))
        if name == "robots":
            for robot, rcfg in cfg.items():
                rkey = f"{key}.{robot}"
                if not isinstance(rcfg, dict):
                    raise InvalidInput(config_key(rkey), mask(rcfg), Phrase(N_("expected a table")))
                if robot in RESERVED_NAMES:
                    raise InvalidInput(config_key(rkey), robot, Phrase(N_(
                        "a robot may not be called {name!r} (the name of a built-in channel); choose another name"),
                        name=robot))
                if not rcfg.get("kind"):
                    raise InvalidInput(config_key(f"{rkey}.kind"), rcfg.get("kind"), Phrase(
                        N_("expected the robot's kind: one of {choices}"), choices=", ".join(_robot_kinds())))
                if rcfg.get("enabled", True) is not False:
                    out.append(factory(str(rcfg["kind"]), f"{rkey}.kind")(robot, rcfg, rkey))
            continue
        if name not in ("console", "file", "email", "webhook"):
            raise InvalidInput(config_key(key), name, Phrase(N_(
                "unknown channel; expected console, file, email, webhook or robots.NAME (a named robot)")))
        if cfg.get("enabled", True) is False:
            continue
        if name == "webhook":  # the one unnamed robot of earlier versions: its kind is its format
            fmt = str(cfg.get("format", "json"))
            formats = ["json"] + [k for k in _robot_kinds() if k != "webhook"]
            if fmt not in formats:
                raise InvalidInput(config_key(f"{key}.format"), fmt,
                                   Phrase(N_("expected one of {choices}"), choices=", ".join(formats)))
            out.append(factory("webhook" if fmt == "json" else fmt, f"{key}.format")(name, cfg, key))
        else:
            out.append(factory(name, key)(name, cfg, key))
    return Channels(out, load_routes(settings, out))


def _robot_kinds() -> list[str]:
    return [k for k in channel_kinds() if k not in ("console", "file", "email")]


# ---------------------------------------------------------------------- config show
_SECRET_KEY = re.compile(r"pass|secret|token|api_?key|credential", re.IGNORECASE)


def mask(value: Any, key: str = "") -> Any:
    """Secrets replaced by ``***``: secret-looking keys, URL query tokens and URL passwords."""
    if isinstance(value, dict):
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if key.endswith("_env") or key.endswith("_set"):
        return value  # the NAME of the variable (or whether it is set), not its value
    if _SECRET_KEY.search(key) and not isinstance(value, bool) and value not in (None, ""):
        return "***"
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    return value


def _safe_id(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()[:32]
