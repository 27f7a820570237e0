"""The workbench's exceptions.

Every error a user can cause is a :class:`WorkbenchError`; its message says what
was received, what was expected, and the exact fix.
"""

from __future__ import annotations

import reprlib
from typing import Any


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class DataError(WorkbenchError, ValueError):
    """The data itself is unusable: NaN, empty, wrong labels, unreadable file, …"""


class LayoutError(DataError):
    """The array's shape does not fit the named layout, or contradicts it."""


class ShapeError(WorkbenchError, ValueError):
    """A module cannot process an input of this shape (raised by the shape doctor)."""


class ConfigError(WorkbenchError, ValueError):
    """A configuration value is unknown or out of range."""


class StudyError(WorkbenchError, RuntimeError):
    """A study cannot start or continue."""


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters: an error message stays one readable line whatever the input."""
    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxstring, shortener.maxother = 2, limit, limit
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
