"""Word to PDF through LibreOffice run headless, when it is installed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from engine.core.errors import DubanError

PACKAGE_HINT = "install LibreOffice Writer (Debian/Ubuntu: apt-get install libreoffice-writer-nogui fonts-noto-cjk)"
TIMEOUT_SECONDS = 180


class PdfUnavailable(DubanError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot write PDF: {reason}; {PACKAGE_HINT}")


def soffice() -> str | None:
    """The LibreOffice program on PATH, if any."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def docx_to_pdf(data: bytes) -> bytes:
    """The PDF LibreOffice makes of a Word document (a private profile, so runs never collide)."""
    program = soffice()
    if program is None:
        raise PdfUnavailable("LibreOffice (soffice) is not installed")
    with tempfile.TemporaryDirectory(prefix="duban-pdf-") as tmp:
        folder = Path(tmp)
        source = folder / "document.docx"
        source.write_bytes(data)
        try:
            done = subprocess.run(
                [program, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless",
                 "--convert-to", "pdf", "--outdir", str(folder), str(source)],
                capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise PdfUnavailable(f"LibreOffice did not finish within {TIMEOUT_SECONDS} s") from None
        target = folder / "document.pdf"
        if done.returncode != 0 or not target.exists():
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PdfUnavailable(f"LibreOffice failed ({detail[0]})")
        return target.read_bytes()
