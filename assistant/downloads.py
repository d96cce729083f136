"""Files the product hands back to a browser: safe download names and the temporary folders the
UI tabs (batch, review) write their downloads into, pruned after a day."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

KEEP_S = 24 * 3600


def safe_stem(name: str, fallback: str) -> str:
    """A file-name stem of letters, digits, '.', '_' and '-' only (at most 80), or `fallback`."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name or "").strip("-.")[:80].strip("-.")
    return stem or fallback


def prune_old_folders(prefix: str, keep_s: float = KEEP_S) -> None:
    """Remove the temporary folders named `prefix*` older than `keep_s` (earlier runs' downloads)."""
    now = time.time()
    for folder in Path(tempfile.gettempdir()).glob(prefix + "*"):
        try:
            if folder.is_dir() and now - folder.stat().st_mtime > keep_s:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass
