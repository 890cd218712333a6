"""The one place that hides secrets in a URL before it is printed, logged or put in a message.

Standard library only, so error paths and the CLI's last-resort guard call it without loading
SQLAlchemy. Every printed URL (database URLs in errors, webhooks in reminders and config show,
backup messages) goes through ``mask_url``; ``mask_urls`` does it for URLs inside free text
(storage passes a driver's words up as they are; the engine masks them before showing them).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"

# Query keys that carry a credential: webhook tokens (DingTalk access_token and sign, WeCom key),
# API keys, passwords passed as libpq parameters.
SECRET_QUERY_KEY = re.compile(
    r"^(access_?token|token|key|api_?key|secret|sign|signature|password|passwd|pwd|auth|credential)s?$",
    re.IGNORECASE,
)

# Path segments that ARE the credential: Feishu/Lark custom bots (/open-apis/bot/v2/hook/<token>).
SECRET_PATH = re.compile(r"(/bot/v\d+/hook/)[^/?#]+", re.IGNORECASE)

_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>()\[\]]+")


def mask_url(url: str) -> str:
    """``url`` with its password and credential-carrying query values replaced by ``***``.

    Anything that does not parse as a URL is returned with the same masking applied textually,
    so a malformed URL never leaks its password either.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            netloc = f"{user}:{MASK}@{host}" if colon else f"{userinfo}@{host}"
        path = SECRET_PATH.sub(lambda m: m.group(1) + MASK, parts.path)
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(SECRET_QUERY_KEY.match(k) for k, _ in pairs):
                query = "&".join(
                    f"{quote(k, safe='')}={MASK if SECRET_QUERY_KEY.match(k) else quote(v, safe='/:,')}"
                    for k, v in pairs
                )
        if netloc == parts.netloc and query == parts.query and path == parts.path:
            return url  # nothing secret (and sqlite:////abs/path keeps its slashes)
        return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))
    except ValueError:
        return _mask_textually(url)


def mask_urls(text: str) -> str:
    """Every URL inside ``text`` masked (for messages that quote a driver's or a tool's error)."""
    def masked(m: re.Match[str]) -> str:
        url = m.group(0)
        core = url.rstrip(".,;:!?")  # punctuation after a URL belongs to the sentence
        return mask_url(core) + url[len(core):]

    return _URL_IN_TEXT.sub(masked, text)


def _mask_textually(url: str) -> str:
    url = re.sub(r"(://[^:/@]*:)[^@]*@", rf"\1{MASK}@", url)
    url = SECRET_PATH.sub(lambda m: m.group(1) + MASK, url)
    return re.sub(r"([?&][^=&]+=)[^&]*", lambda m: m.group(1) + MASK
                  if SECRET_QUERY_KEY.match(m.group(1)[1:-1]) else m.group(0), url)
