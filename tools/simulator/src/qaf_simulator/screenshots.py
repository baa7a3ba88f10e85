"""Pictures of a real run for the README: the dashboard in headless Chromium, the digest's first page."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,1800",
]


def capture(dashboard_url: str, digest_pdf: Path | None, out: Path) -> list[Path]:
    """Writes dashboard.png and digest-page-1.png into `out`; skips what its tool is missing for."""
    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        target = out / "dashboard.png"
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={target}", dashboard_url],
                capture_output=True, timeout=120, check=True,
            )
        made.append(target)
    if digest_pdf is not None and shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(digest_pdf),
                        str(out / "digest-page-1")], capture_output=True, timeout=120, check=True)
        made.append(out / "digest-page-1.png")
    return made
