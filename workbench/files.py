"""Writing a file whole or not at all, and never through a link.

Every file the workbench writes (results, the report, checkpoints, fold models, a profile's
JSON) goes through :func:`write_atomically`: the bytes go to a temporary file with a unique
name, created exclusively in the destination's folder (``O_CREAT | O_EXCL``: never an existing
file, never through a link someone planted), which then replaces the destination by a rename.
A reader sees the old file or the new one, never half of one; a crash leaves the old file; and
where the destination is a symbolic link, the link itself is replaced and the file it pointed
to is left untouched (a link ``runs/exp/results.parquet → ~/.bashrc`` once had that file
overwritten).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` by ``write(file)``, where ``file`` is a fresh temporary file opened for
    binary writing in the same folder; then rename it over ``path``. Returns ``path``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as open() would create it (mkstemp's files are private)
        with os.fdopen(fd, "wb") as file:
            write(file)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return out


def _umask() -> int:
    mask = os.umask(0o022)  # reading the mask means setting it; set it straight back
    os.umask(mask)
    return mask


def write_text_atomically(path: str | Path, text: str) -> Path:
    """:func:`write_atomically` for UTF-8 text."""
    return write_atomically(path, lambda file: file.write(text.encode("utf-8")))
