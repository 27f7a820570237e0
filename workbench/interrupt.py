"""Ctrl-C (and SIGTERM) that stops long work at a safe point, the same way everywhere.

A signal that raises wherever Python happens to be can land inside a storage
transaction (SQLite's write lock then stays held) or between two writes that
belong together. Lightning also turns a ``KeyboardInterrupt`` into ``sys.exit(1)``
and then ignores every later Ctrl-C. So while a long operation runs (a study, an
evaluation, a profile, a training run) the handler only takes note; the work
stops at its next safe point (between batches, seeds, trials or profile steps) by
raising :class:`Interrupted`, which is not a ``KeyboardInterrupt``. A second
signal raises at once.

When the outermost operation ends that way, it raises a ``KeyboardInterrupt``
whose message says, in one line, what stopped and how to go on: the CLI prints
it and exits 130; Jupyter shows it as an interrupted cell.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The first statement of a worker process started with ``python -c``: until its entry point
# listens, Ctrl-C and SIGTERM end it at once (it holds nothing yet) instead of raising into its
# imports with a traceback, or being ignored where a background job's shell ignored SIGINT.
# (Code, not a call: importing this module imports the package, torch included.)
ENDS_AT_ONCE_UNTIL_IT_LISTENS = (
    f"import signal; [signal.signal(s, signal.SIG_DFL) for s in {tuple(int(s) for s in SIGNALS)}]; "
)


class Interrupted(BaseException):
    """Raised at a safe point after Ctrl-C or SIGTERM. ``what`` is set by the code that
    knows what the interruption left behind (e.g. the worker that re-queued its trial)."""

    def __init__(self, signum: int, what: str | None = None) -> None:
        super().__init__(signum, what)
        self.signum, self.what = signum, what

    def message(self, what: str) -> str:
        return f"interrupted ({signal.Signals(self.signum).name}): {self.what or what}"


class _Interrupt:
    """The signal noted by the handler; :meth:`check` raises it at a safe point."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.event = threading.Event()

    def handler(self, signum: int, _: Any) -> None:
        if self.signum is not None:
            raise Interrupted(signum)  # the second signal: at once
        self.signum = signum
        self.event.set()

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)

    def sleep(self, seconds: float) -> None:
        """Wait, waking at once on a signal."""
        self.event.wait(seconds)
        self.check()


_NEVER = _Interrupt()  # outside any interruptible operation (or off the main thread): never fires
_active: _Interrupt | None = None


def safe_point() -> None:
    """A safe point: raise :class:`Interrupted` if Ctrl-C or SIGTERM arrived."""
    (_active or _NEVER).check()


def wait_or_stop(seconds: float) -> None:
    """Wait, or stop at once on Ctrl-C."""
    (_active or _NEVER).sleep(seconds)


@contextmanager
def interruptible(
    what: str, *, finished: str = "it had finished", raises: type[KeyboardInterrupt] = KeyboardInterrupt
) -> Iterator[None]:
    """Run a long operation so that Ctrl-C stops it at its next safe point.

    ``what`` says what an interruption leaves behind and how to go on, e.g. "the evaluation
    stopped; the stored verdict is unchanged. Run the same command again to evaluate";
    ``finished`` what is true when the signal came after the last safe point; ``raises`` the
    ``KeyboardInterrupt`` subclass to raise.
    Nested operations share the outermost one's handler; only the outermost turns
    :class:`Interrupted` into a ``KeyboardInterrupt`` with the one-line message.
    """
    global _active
    if _active is not None or threading.current_thread() is not threading.main_thread():
        yield  # nested, or off the main thread (where signal handlers cannot be set)
        return
    _active = _Interrupt()
    previous = {sig: signal.signal(sig, _active.handler) for sig in SIGNALS}
    try:
        yield
        if _active.signum is not None:  # after the last safe point: the work is done, the command still stops
            raise raises(f"interrupted ({signal.Signals(_active.signum).name}) as it ended: {finished}")
    except Interrupted as exc:
        raise raises(exc.message(what)) from None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _active = None


def raise_at_once() -> None:
    """For commands without safe points: Ctrl-C and SIGTERM raise ``KeyboardInterrupt`` at once,
    also where the shell started the process with SIGINT ignored (a background job)."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, signal.default_int_handler)


def exit_at_once_from_now() -> None:
    """For a process whose work is over (the command line's, a study's worker): Ctrl-C and
    SIGTERM end it at once, as signals do by default, instead of raising ``KeyboardInterrupt``
    into its shutdown, where a garbage collector's callback would print it as an ignored
    exception with a traceback (seen in a worker whose SQLAlchemy mapper registry was being
    torn down). Only for a process's own entry point: a library caller keeps its handlers."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
