"""A content-addressed file store for evidence: the same bytes are kept once."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


class BlobTooLarge(ValueError):
    """The file grew past the size allowed while it was being copied in; nothing was kept."""

    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(f"more than {limit} bytes")


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def put_file(self, source: Path, *, max_bytes: int | None = None) -> StoredBlob:
        """Copies ``source`` in, a chunk at a time (hashing as it goes); written to a temporary file and
        renamed, so a crash leaves no torn blob. More than ``max_bytes`` raises BlobTooLarge."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLarge(size, max_bytes)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            target = self.path_for(sha)
            if target.exists():
                os.unlink(tmp_name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_name, target)
            return StoredBlob(sha, size, target)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def put_bytes(self, data: bytes, *, max_bytes: int | None = None) -> StoredBlob:
        if max_bytes is not None and len(data) > max_bytes:
            raise BlobTooLarge(len(data), max_bytes)
        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            tmp.write(data)
        try:
            return self.put_file(Path(tmp.name))
        finally:
            os.unlink(tmp.name)

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def verify(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        if not path.exists():
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256


def default_blob_root(db_url: str, sqlite_file: Path | None) -> Path:
    """Beside an SQLite file; for a server database, ``DUBAN_EVIDENCE_DIR`` or the user data dir."""
    override = os.environ.get("DUBAN_EVIDENCE_DIR")
    if override:
        return Path(override)
    if sqlite_file is not None:
        return sqlite_file.with_name(sqlite_file.name + ".evidence")
    from platformdirs import user_data_dir

    return Path(user_data_dir("duban", appauthor=False)) / "evidence"
