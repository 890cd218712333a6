"""The one place that hides secrets in a URL before it is printed, logged or put in a message.

Standard library only, so error paths and the CLI's last-resort guard call it without loading
SQLAlchemy. Every printed URL (database URLs in errors, webhooks in reminders and config show,
backup messages) goes through ``mask_url``; ``mask_urls`` does it for URLs inside free text
(storage passes a driver's words up as they are; the engine masks them before showing them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

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


def url_secrets(url: str | None) -> tuple[str, ...]:
    """The credentials ``url`` carries (its password, secret query values, a hook token in its path),
    as they appear in it and decoded: what ``redact`` hides in a text that quotes the URL in parts."""
    if not url:
        return ()
    found: list[str] = []
    try:
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        found += [m.group(0)[len(m.group(1)):] for m in SECRET_PATH.finditer(parts.path)]
        for raw in parts.query.split("&"):
            key, eq, value = raw.partition("=")
            if eq and SECRET_QUERY_KEY.match(unquote(key)):
                found += [value, unquote(value)]
    except ValueError:
        found += re.findall(r"(?<=[=/])[^&/?#@:]{8,}", url)  # unparsable: every longer part counts
    return tuple(s for s in dict.fromkeys(found) if len(s) >= 4)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` (an error a server or a library wrote) with every one of ``secrets`` hidden, also
    percent-encoded or in Base64 (an SMTP login), and every URL in it masked. A server that quotes
    the path it was sent (a token, a signature) is quoted without them."""
    import base64

    forms: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= 4:
            forms.update({secret, quote(secret, safe=""), quote(secret, safe="/:"),
                          base64.b64encode(secret.encode("utf-8")).decode("ascii")})
    for form in sorted(forms, key=len, reverse=True):  # the longest first: one may contain another
        text = text.replace(form, MASK)
    return mask_urls(text)


def url_reference(url: str) -> str:
    """How a destination URL is kept where it is shown or stored (a reminder's row): masked, and
    when masking hid something, with a digest of the whole URL so two destinations that differ only
    in their tokens stay two. Holds no secret; the URL itself stays in the config or the user's row."""
    shown = mask_url(url)
    if shown == url:
        return url
    import hashlib

    return f"{shown} #{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}"


def is_reference_of(stored: str | None, url: str | None) -> bool:
    """Whether ``stored`` (a reminder's address) names ``url``: as its reference, or in the clear as
    rows written before references were kept."""
    return bool(stored and url) and stored in (url, url_reference(str(url)))
