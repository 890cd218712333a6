"""HTTP robots, each as its vendor documents it (docs/REMINDERS.md cites the pages):

- ``webhook``: duban's own JSON, optionally signed (``X-Duban-Timestamp`` and ``X-Duban-Signature:
  sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``);
- ``wecom`` (企业微信群机器人): ``markdown`` with ``<@userid>`` mentions; when someone can only be
  mentioned by mobile number, a ``text`` message with ``mentioned_list`` / ``mentioned_mobile_list``
  (WeCom's markdown has no mobile mentions);
- ``dingtalk`` (钉钉自定义机器人): ``markdown`` with ``at.atMobiles`` / ``at.atUserIds`` (each also
  written ``@…`` in the text, where DingTalk renders it); 加签: ``timestamp`` (ms) and ``sign`` =
  Base64(HMAC-SHA256(key=secret, timestamp + "\\n" + secret)) as query parameters;
- ``feishu`` (飞书/Lark 自定义机器人): an ``interactive`` card, ``<at id=…></at>`` mentions; signed
  with ``timestamp`` (s) and ``sign`` = Base64(HMAC-SHA256(key=timestamp + "\\n" + secret, "")) in
  the body.

Every robot answers HTTP 200 with an error code when it refuses a message (``errcode`` for WeCom
and DingTalk, ``code`` for Feishu): any such code other than 0 is a failed send, retried with
backoff like an HTTP error. A robot with a ``keyword`` (the vendor's keyword security) gets it in
every message: duban puts it before the title when the text lacks it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from engine.core.errors import InvalidInput, Phrase, config_key
from engine.i18n import N_
from engine.core.urls import mask_url, redact, url_secrets
from engine.supervision.channel_base import (
    KEY_HEADER,
    Contact,
    DeliveryError,
    Outgoing,
    Recipient,
    register_kind,
    secret_value,
)

SIGNATURE_HEADER = "X-Duban-Signature"
TIMESTAMP_HEADER = "X-Duban-Timestamp"
DEFAULT_PER_MINUTE = 20
# Answer fields carrying a vendor's error code: WeCom/DingTalk errcode, Feishu code (StatusCode: v1).
_CODE_FIELDS = ("errcode", "code", "StatusCode")
_MESSAGE_FIELDS = ("errmsg", "msg", "StatusMessage", "message")


class Robot:
    """An HTTP POST of JSON to ``url``; subclasses shape the body and sign it as their vendor says."""

    kind = "webhook"
    group = True  # reaches a group chat: one message per audience, its people @-mentioned
    max_bytes_default = 60_000  # a generic receiver: no vendor limit, a sane bound for one post

    def __init__(self, name: str, cfg: Mapping[str, Any], key: str) -> None:
        self.name, self.key, self.cfg = name, key, dict(cfg)
        self.url = str(cfg["url"]) if cfg.get("url") else None
        if self.url is not None and urlsplit(self.url).scheme not in ("http", "https"):
            raise InvalidInput(config_key(f"{key}.url"), mask_url(self.url),
                               Phrase(N_("expected an http:// or https:// URL")))
        # The unnamed [channels.webhook] of earlier versions: a user's own webhook URL wins over url.
        self.per_user = name == "webhook"
        if not self.per_user and not self.url:
            raise InvalidInput(config_key(f"{key}.url"), None, Phrase(N_("expected the robot's webhook URL")))
        if "secret" in cfg and "secret_env" in cfg:
            raise InvalidInput(config_key(f"{key}.secret"), "***", Phrase(N_("give secret or secret_env, not both")))
        self.keyword = str(cfg["keyword"]) if cfg.get("keyword") else None
        self.per_minute = _whole(cfg.get("per_minute", DEFAULT_PER_MINUTE), f"{key}.per_minute")
        self.max_bytes = _whole(cfg.get("max_bytes", self.max_bytes_default), f"{key}.max_bytes")
        try:
            self.timeout = float(cfg.get("timeout", 10))
        except (TypeError, ValueError):
            raise InvalidInput(config_key(f"{key}.timeout"), cfg.get("timeout"),
                               Phrase(N_("expected a number of seconds"))) from None

    # ------------------------------------------------------------------ the Channel interface
    def address(self, who: Recipient) -> str | None:
        if self.per_user and who.webhook:
            return who.webhook
        return self.url

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "url": self.url, "per_minute": self.per_minute,
                               "max_bytes": self.max_bytes}
        if self.keyword:
            out["keyword"] = self.keyword
        if self.cfg.get("secret_env"):
            import os

            out["secret_set"] = os.environ.get(str(self.cfg["secret_env"])) is not None
        return out

    def send(self, msg: Outgoing) -> None:
        import httpx

        url = msg.address or self.url
        if not url:
            raise DeliveryError(f"recipient {msg.recipient} has no webhook URL")
        shown = mask_url(url)
        msg = self.with_keyword(msg)
        secret = secret_value(self.cfg, self.key)
        signed, body, headers = self.request(url, msg, secret, time.time())
        # What an error may quote and must not show: the tokens of the URL (a server may echo the
        # path it was sent), the signature and the secret itself.
        signature = headers.get(SIGNATURE_HEADER, "").partition("=")[2]
        body_sign = json.loads(body).get("sign") if secret else None  # Feishu signs in the body
        hidden = (*url_secrets(url), *url_secrets(signed), secret, signature, body_sign)
        try:
            response = httpx.post(signed, content=body, timeout=self.timeout,
                                  headers={"Content-Type": "application/json; charset=utf-8",
                                           KEY_HEADER: header_key(msg.key),
                                           **headers})
        except httpx.HTTPError as exc:
            raise DeliveryError(redact(f"{self.label} {shown}: {exc}", hidden)) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(redact(f"{self.label} {shown}: HTTP {response.status_code} "
                                       f"{response.text[:200]}", hidden))
        refused = _refusal(response)
        if refused:
            raise DeliveryError(redact(f"{self.label} {shown}: {refused}", hidden))

    @property
    def label(self) -> str:
        return f"robot {self.name} ({self.kind})" if not self.per_user else f"webhook ({self.kind})"

    # ------------------------------------------------------------------ what subclasses shape
    def with_keyword(self, msg: Outgoing) -> Outgoing:
        if not self.keyword or self.keyword in msg.text:
            return msg
        from dataclasses import replace

        return replace(msg, text=f"【{self.keyword}】{msg.text}")

    def fits(self, msg: Outgoing) -> bool:
        """Whether ``msg`` is within this robot's size limit, measured on what it would send (the
        keyword and @-mentions added): the digest splitter asks before adding a task's line."""
        return self.size(self.with_keyword(msg)) <= self.max_bytes

    def size(self, msg: Outgoing) -> int:
        """What the vendor's limit counts: here the whole JSON body (duban's own format)."""
        return len(_json(self.payload(msg)))

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        return {"key": msg.key, "recipient": msg.recipient, "task_id": msg.task_id, "rule": msg.rule,
                "target": msg.target, "subject": msg.subject, "text": msg.text,
                "mentions": [{k: v for k, v in c.__dict__.items() if v is not None} for c in msg.mentions],
                **({"items": [dict(i) for i in msg.items]} if msg.items else {})}

    def request(self, url: str, msg: Outgoing, secret: str | None, now: float) -> tuple[str, bytes, dict[str, str]]:
        """(URL, body, extra headers) of the POST; signed when the robot has a secret."""
        body = _json(self.payload(msg))
        if not secret:
            return url, body, {}
        stamp = str(int(now))
        digest = hmac.new(secret.encode("utf-8"), stamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
        return url, body, {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: f"sha256={digest}"}


class WeComRobot(Robot):
    """企业微信群机器人: markdown content ≤ 4096 bytes, text content ≤ 2048 bytes, 20 messages a minute."""

    kind = "wecom"
    max_bytes_default = 4096
    TEXT_MAX_BYTES = 2048

    def fits(self, msg: Outgoing) -> bool:
        body = self.payload(self.with_keyword(msg))  # markdown ≤ max_bytes; text (mobile mentions) ≤ 2048
        if body["msgtype"] == "text":
            return len(body["text"]["content"].encode("utf-8")) <= min(self.max_bytes, self.TEXT_MAX_BYTES)
        return len(body["markdown"]["content"].encode("utf-8")) <= self.max_bytes

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        ids = [c.wecom_id for c in msg.mentions if c.wecom_id]
        mobiles = [c.mobile for c in msg.mentions if not c.wecom_id and c.mobile]
        if mobiles:  # only the text message mentions by mobile number
            return {"msgtype": "text", "text": {"content": plain_text(msg.text), "mentioned_list": ids,
                                                "mentioned_mobile_list": mobiles}}
        text = msg.text + ("\n" + " ".join(f"<@{i}>" for i in ids) if ids else "")
        return {"msgtype": "markdown", "markdown": {"content": text}}

    def request(self, url: str, msg: Outgoing, secret: str | None, now: float) -> tuple[str, bytes, dict[str, str]]:
        return url, _json(self.payload(msg)), {}  # WeCom robots have no signature: the key is the URL's


class DingTalkRobot(Robot):
    """钉钉自定义机器人: markdown with at.atMobiles / at.atUserIds; 加签 in the query string."""

    kind = "dingtalk"
    max_bytes_default = 18_000  # DingTalk names no markdown limit on the robot page: a cautious bound

    def size(self, msg: Outgoing) -> int:
        return len(self.payload(msg)["markdown"]["text"].encode("utf-8"))  # the markdown text, mentions included

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        user_ids = [c.dingtalk_id for c in msg.mentions if c.dingtalk_id]
        mobiles = [c.mobile for c in msg.mentions if not c.dingtalk_id and c.mobile]
        text = msg.text
        if user_ids or mobiles:  # DingTalk highlights a mention only where the text has @…
            text += "\n\n" + " ".join(f"@{x}" for x in user_ids + mobiles)
        body: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": msg.subject, "text": text}}
        if user_ids or mobiles:
            body["at"] = {"atMobiles": mobiles, "atUserIds": user_ids, "isAtAll": False}
        return body

    def request(self, url: str, msg: Outgoing, secret: str | None, now: float) -> tuple[str, bytes, dict[str, str]]:
        body = _json(self.payload(msg))
        if not secret:
            return url, body, {}
        stamp = str(int(now * 1000))
        sign = base64.b64encode(hmac.new(secret.encode("utf-8"), f"{stamp}\n{secret}".encode("utf-8"),
                                         hashlib.sha256).digest()).decode("ascii")
        joiner = "&" if urlsplit(url).query else "?"
        return url + joiner + urlencode({"timestamp": stamp, "sign": sign}), body, {}


class FeishuRobot(Robot):
    """飞书/Lark 自定义机器人: an interactive card; request body ≤ 20 KB; 100 a minute, 5 a second."""

    kind = "feishu"
    max_bytes_default = 18_000  # the card's text; the whole body must stay under 20 KB

    BODY_MAX_BYTES = 20 * 1024  # the custom bot's request body
    SIGNATURE_BYTES = 80  # "timestamp" and "sign" added to a signed body

    def fits(self, msg: Outgoing) -> bool:
        body = self.payload(self.with_keyword(msg))
        content = body["card"]["elements"][0]["text"]["content"]
        return (len(content.encode("utf-8")) <= self.max_bytes
                and len(_json(body)) + self.SIGNATURE_BYTES <= self.BODY_MAX_BYTES)

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        tags = [f"<at id={c.feishu_id}></at>" if c.feishu_id else f"<at email={c.email}></at>"
                for c in msg.mentions if c.feishu_id or c.email]
        content = msg.body + ("\n" + " ".join(tags) if tags else "")
        urgent = msg.rule.startswith(("overdue", "escalate")) or "red" in msg.rule
        return {"msg_type": "interactive", "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": msg.subject},
                       "template": "red" if urgent else "orange"},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content or msg.subject}}],
        }}

    def request(self, url: str, msg: Outgoing, secret: str | None, now: float) -> tuple[str, bytes, dict[str, str]]:
        body = self.payload(msg)
        if secret:
            stamp = str(int(now))
            sign = base64.b64encode(hmac.new(f"{stamp}\n{secret}".encode("utf-8"), b"",
                                             hashlib.sha256).digest()).decode("ascii")
            body = {"timestamp": stamp, "sign": sign, **body}
        return url, _json(body), {}


def header_key(key: str) -> str:
    """The claim key as an HTTP header value: headers are ASCII, so UTF-8 percent-encoded (a unit or
    user named in Chinese); an ASCII key is sent as it is."""
    return quote(key, safe="|:@,;=+")


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _whole(value: Any, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(config_key(key), value, Phrase(N_("expected a whole number of at least 1")))
    return value


def _refusal(response: Any) -> str | None:
    """The vendor's error code in a 200 answer, worded; None when the answer says success."""
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for name in _CODE_FIELDS:
        code = data.get(name)
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            why = next((str(data[m]) for m in _MESSAGE_FIELDS if data.get(m)), "")
            return f"{name} {code}" + (f": {why[:200]}" if why else "")
    return None


_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def plain_text(markdown: str) -> str:
    """Markdown as plain text for robots' text messages: links as "text url", no emphasis marks."""
    text = _LINK.sub(lambda m: f"{m.group(1)} {m.group(2)}", markdown)
    text = re.sub(r"(\*\*|__|`)", "", text)
    return re.sub(r"^#+\s*", "", text, flags=re.MULTILINE)


def contact_mentions(contacts: tuple[Contact, ...]) -> tuple[Contact, ...]:
    """Those of ``contacts`` a robot can mention at all (some id, a mobile or an e-mail)."""
    return tuple(c for c in contacts if c.mobile or c.wecom_id or c.dingtalk_id or c.feishu_id or c.email)


for _cls in (Robot, WeComRobot, DingTalkRobot, FeishuRobot):
    register_kind(_cls.kind, _cls)
