"""The workbench's exceptions.

Every error a user can cause is a :class:`WorkbenchError`; its message says what
was received, what was expected, and the exact fix.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal


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


class DataWarning(UserWarning):
    """Something about the data a user should know, that does not stop it from loading."""


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters: an error message stays one readable line whatever the input."""
    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxstring, shortener.maxother = 2, limit, limit
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


Interface = Literal["python", "cli", "config"]
_interface: ContextVar[Interface | None] = ContextVar("workbench_interface", default=None)
# How each loading option is written: Python keyword → (command-line flag, config key).
OPTION_NAMES: dict[str, tuple[str, str | None]] = {
    "impute": ("--impute", "impute"),
    "layout": ("--layout", "layout"),
    "target": ("--target", "target"),
    "window": ("--window", "window"),
    "step": ("--step", "step"),
    "time_col": ("--time-column", "time_column"),
    "group_col": ("--group-column", "group_column"),
    "task": ("--task", "task"),
    "check_layout": ("--no-check-layout", "check_layout"),
    "time_limit": ("--time", "time_limit"),
    "test": ("--test", "test_data"),
    "split_column": ("--split-column", "split_column"),
    "name": ("--name", "name"),
    "storage": ("--storage", "storage"),
    "runs_dir": ("--runs-dir", "runs_dir"),
    "max_epochs": ("--max-epochs", "max_epochs"),
    # Settings of a run, not of the experiment: a config file has no key for them.
    "heartbeat_s": ("--heartbeat", None),
    "grace_s": ("--grace", None),
}
# Options whose command-line form is a flag alone (its presence sets the value shown).
FLAGS = {"check_layout"}


@contextmanager
def interface(name: Interface) -> Iterator[None]:
    """Errors raised inside give their fixes in the form of ``name``: a flag on the command
    line, a key in a config file, a keyword in Python (the default). The outermost caller
    decides (the CLI, before an experiment config it reads)."""
    token = _interface.set(name) if _interface.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _interface.reset(token)


def current_interface() -> Interface:
    return _interface.get() or "python"


def option(name: str, value: Any, *, where: Interface | None = None) -> str:
    """A loading option as the user writes it where they are (or ``where``): ``impute='ffill'``
    in Python, ``--impute ffill`` on the command line, ``impute: ffill`` in a config (an option
    a config has no key for: as the command line that runs it writes it)."""
    flag, key = OPTION_NAMES[name]
    where = where or current_interface()
    if where == "cli" or (where == "config" and key is None):
        return flag if name in FLAGS else f"{flag} {value}"
    if where == "config":
        return f"{key}: {str(value).lower() if isinstance(value, bool) else value}"
    return f"{name}={value!r}"


def options(*, where: Interface | None = None, **values: Any) -> str:
    """Several options that make one fix: ``window=32, step=8`` in Python, ``--window 32 --step 8``
    on the command line, ``window: 32, step: 8`` in a config."""
    where = where or current_interface()
    return (" " if where == "cli" else ", ").join(option(name, value, where=where) for name, value in values.items())


def option_everywhere(name: str, value: Any) -> str:
    """An option in every form, for a message whose reader may be anywhere (raised by code that
    all three call, or stored and read later): ``name='x' in Python, --name x on the command
    line, name: x in a config``."""
    return (
        f"{option(name, value, where='python')} in Python, {option(name, value, where='cli')} on the command line, "
        f"{option(name, value, where='config')} in a config"
    )


def option_name(name: str, *, where: Interface | None = None) -> str:
    """An option's name alone, to say which to drop or set: ``window=``, ``--window``, ``window``."""
    flag, key = OPTION_NAMES[name]
    where = where or current_interface()
    if where == "cli" or (key is None and where == "config"):
        return flag
    return f"{name}=" if where == "python" or key is None else key
