"""The office's trail keys: kept in files outside the database, so only duban's writers can make records.

A key file holds a ring of HMAC-SHA256 secrets by key id (the newest one signs; older ones stay to
check the records they signed) and sits beside an Ed25519 signing key for checkpoints. Where it is:
``DUBAN_TRAIL_KEY`` (a path), else ``[security] trail_key_file`` in the config, else one file per
ledger in the user data directory (``keys/<ledger id>.key``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.config import Settings
from engine.core.errors import DubanError, InvalidInput

KEY_ENV = "DUBAN_TRAIL_KEY"
KEY_FORMAT = "duban-trail-keys"
CHECKPOINT_FORMAT = "duban-checkpoint"


class TrailKeyMissing(DubanError):
    """The ledger's records are authenticated but its key file cannot be found: nothing is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"the trail key file {path} is missing: this ledger's records are authenticated, so nothing can be "
            f"written without it; restore the file, or point {KEY_ENV} or [security] trail_key_file at it")


def key_path(settings: Settings | None, ledger_id: str) -> Path:
    """Where the key file of ledger ``ledger_id`` is (it need not exist)."""
    override = os.environ.get(KEY_ENV)
    if override:
        return Path(override).expanduser()
    configured = settings.section("security").get("trail_key_file") if settings is not None else None
    if configured:
        return Path(str(configured)).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("duban", appauthor=False)) / "keys" / f"{ledger_id}.key"


def new_ledger_id() -> str:
    return secrets.token_hex(8)


def signing_key_path(path: Path) -> Path:
    return path.with_name(path.name + ".signing.pem")


@dataclass
class TrailKeys:
    """A ring of HMAC keys; ``current`` signs new records."""

    path: Path
    ledger_id: str
    current: str
    secrets: dict[str, bytes] = field(default_factory=dict)

    def mac(self, key_id: str, record_hash: str) -> str:
        return hmac.new(self.secrets[key_id], record_hash.encode("ascii"), hashlib.sha256).hexdigest()

    def check(self, key_id: str, record_hash: str, mac: str) -> bool:
        return key_id in self.secrets and hmac.compare_digest(self.mac(key_id, record_hash), mac)


def load(path: Path) -> TrailKeys | None:
    """The key ring at ``path``; None when there is no such file. A file that is not one is an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise InvalidInput("trail key file", str(path), f"cannot be read: {exc}") from None
    try:
        doc = json.loads(text)
        if doc.get("format") != KEY_FORMAT:
            raise ValueError("not a duban trail key file")
        ring = {kid: bytes.fromhex(hexkey) for kid, hexkey in doc["keys"].items()}
        if doc["current"] not in ring:
            raise ValueError("its current key is not in it")
        return TrailKeys(path, str(doc["ledger"]), str(doc["current"]), ring)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput("trail key file", str(path), f"is not a duban trail key file ({exc})") from None


def _write_private(path: Path, data: bytes) -> None:
    """Written beside the target with mode 0600 and renamed over it: never a torn or readable key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _save(keys: TrailKeys) -> None:
    doc = {"format": KEY_FORMAT, "ledger": keys.ledger_id, "current": keys.current,
           "keys": {kid: secret.hex() for kid, secret in keys.secrets.items()}}
    _write_private(keys.path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))


def create(path: Path, ledger_id: str) -> TrailKeys:
    """A new key file (and signing key) for the ledger, or the one already there."""
    existing = load(path)
    if existing is not None:  # an office may keep one key file for several ledgers
        return existing
    kid = secrets.token_hex(6)
    keys = TrailKeys(path, ledger_id, kid, {kid: secrets.token_bytes(32)})
    _save(keys)
    _signing_key(path, create=True)
    return keys


def rotate(keys: TrailKeys) -> str:
    """Adds a new key and makes it the current one (the old ones keep checking their records)."""
    kid = secrets.token_hex(6)
    keys.secrets[kid] = secrets.token_bytes(32)
    keys.current = kid
    _save(keys)
    return kid


# ---------------------------------------------------------------------- signed checkpoints
def _signing_key(path: Path, *, create: bool = False) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem_path = signing_key_path(path)
    try:
        return serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
    except FileNotFoundError:
        if not create:
            return None
    except (ValueError, TypeError) as exc:
        raise InvalidInput("checkpoint signing key", str(pem_path), f"is not a PEM Ed25519 key ({exc})") from None
    key = Ed25519PrivateKey.generate()
    _write_private(pem_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return key


def _raw_public(private_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _signed_part(statement: dict[str, Any]) -> bytes:
    body = {k: v for k, v in statement.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign_checkpoint(keys: TrailKeys, head: dict[str, Any]) -> dict[str, Any]:
    """A statement of the chain head (``head``: records, last_id, hash, at), signed with Ed25519."""
    private = _signing_key(keys.path, create=True)
    statement = {"format": CHECKPOINT_FORMAT, "version": 1, "ledger": keys.ledger_id, **head,
                 "public_key": _raw_public(private)}
    statement["signature"] = base64.b64encode(private.sign(_signed_part(statement))).decode("ascii")
    return statement


def check_checkpoint_signature(statement: Any, keys: TrailKeys | None) -> str | None:
    """Why the statement cannot be trusted, or None when its signature holds (and, with the office's
    signing key at hand, was made by it)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not isinstance(statement, dict) or statement.get("format") != CHECKPOINT_FORMAT:
        return "it is not a duban checkpoint"
    missing = [k for k in ("records", "last_id", "hash", "at", "public_key", "signature") if k not in statement]
    if missing:
        return f"it lacks {', '.join(missing)}"
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(statement["public_key"], validate=True))
        public.verify(base64.b64decode(statement["signature"], validate=True), _signed_part(statement))
    except (InvalidSignature, ValueError, TypeError):
        return "its signature does not match its content (the statement was altered or forged)"
    if keys is not None:
        private = _signing_key(keys.path)
        if private is not None and _raw_public(private) != statement["public_key"]:
            return f"it was signed by another key than this office's ({signing_key_path(keys.path)})"
    return None
