"""What a channel kind is: the interface every channel implements (``Channel``), the messages it is
handed (``Outgoing`` with its ``Contact`` mentions) and the registry of kinds (``register_kind``,
APScheduler's plug-in style). engine/supervision/channels.py registers the local kinds and loads
the robots of engine/supervision/robots.py; both import this module, never each other's way round.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from engine.core.errors import DubanError

__all__ = ["KEY_HEADER", "Channel", "ChannelFactory", "Contact", "DeliveryError", "Outgoing", "Recipient",
           "register_kind", "registered", "secret_value"]

KEY_HEADER = "X-Duban-Reminder-Key"


class DeliveryError(DubanError):
    """A send that did not go through; the reminder is retried with backoff."""


@dataclass(frozen=True)
class Contact:
    """How a person is reached and @-mentioned (``duban user set``)."""

    name: str
    mobile: str | None = None
    email: str | None = None
    wecom_id: str | None = None
    dingtalk_id: str | None = None
    feishu_id: str | None = None


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
    # People a group robot @-mentions (a unit's registered users).
    mentions: tuple[Contact, ...] = ()
    # A digest: the reminders it carries (key, task_id, rule, target), so a receiver can tell each.
    items: tuple[Mapping[str, Any], ...] = ()

    @property
    def subject(self) -> str:
        return self.text.split("\n", 1)[0].lstrip("#* ").strip()

    @property
    def body(self) -> str:
        """The text after the subject line."""
        return self.text.split("\n", 1)[1].strip("\n") if "\n" in self.text else ""


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str | None = None
    webhook: str | None = None
    contact: Contact | None = None


class Channel(Protocol):
    """What every channel kind offers. ``name`` is its name in the config (``console``, ``webhook``,
    a robot's name), ``kind`` its plug-in."""

    name: str
    kind: str

    def address(self, who: Recipient) -> str | None | bool:
        """Where this channel reaches ``who``: an address, True (reaches everyone, no address) or
        None/False (cannot reach them)."""
        ...

    def send(self, msg: Outgoing) -> None: ...

    def describe(self) -> dict[str, Any]:
        """Its settings as ``config show`` prints them (secrets are masked by the caller)."""
        ...

    # Optional, for cheap local channels: ``send_many(msgs) -> list[str | None]``, one outcome per
    # message (None: delivered; a string: why not). Channels without it are sent one by one.


# (name, its config table, where the table is, for messages) -> a channel; InvalidInput if wrong
ChannelFactory = Callable[[str, Mapping[str, Any], str], Channel]
_KINDS: dict[str, ChannelFactory] = {}


def register_kind(kind: str, factory: ChannelFactory) -> None:
    """Adds a channel kind (the plug-in point); a kind registered twice is replaced."""
    _KINDS[kind] = factory


def registered() -> Mapping[str, ChannelFactory]:
    """The kinds registered so far, in the order they were (read-only)."""
    return MappingProxyType(_KINDS)


def secret_value(cfg: Mapping[str, Any], key: str, what: str = "secret") -> str | None:
    """``secret`` from the table, or from the variable ``secret_env`` names (checked at send time)."""
    env = cfg.get(f"{what}_env")
    if env:
        value = os.environ.get(str(env))
        if value is None:
            raise DeliveryError(f"{key}: the variable {env} holding the {what} is not set")
        return value
    value = cfg.get(what)
    return str(value) if value not in (None, "") else None
