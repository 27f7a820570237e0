"""Worker processes, started, waited for, signalled and ended one way: a study's workers
(``launch.py``, ``background.py``) and the evaluation's (``evaluate.py``).

Each worker is a fresh interpreter (torch and CUDA state are per process) in a session of its
own, so that a terminal's Ctrl-C reaches each of them once, passed on by the process that
started them. Not multiprocessing's spawn: that re-imports the caller's ``__main__``, which
reruns a script that has no ``if __name__ == "__main__"`` guard.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from workbench.interrupt import ENDS_AT_ONCE_UNTIL_IT_LISTENS, Interrupted, wait_or_stop


def worker_command(entry: str, settings: dict[str, Any]) -> list[str]:
    """The command line of a worker that calls ``entry`` (``"package.module:function"``) with
    ``settings`` (sent as JSON)."""
    module, function = entry.split(":")
    code = ENDS_AT_ONCE_UNTIL_IT_LISTENS + (
        f"import json, sys; from {module} import {function}; {function}(json.loads(sys.argv[1]))"
    )
    return [sys.executable, "-c", code, json.dumps(settings)]


class WorkerPool:
    """The worker processes of one run."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(
        self, entry: str, settings: dict[str, Any], *, env: dict[str, str] | None = None, output: bool = False
    ) -> subprocess.Popen[str]:
        """Run ``entry`` (``"package.module:function"``) in a new worker, called with ``settings``
        (sent as JSON). With ``output``, what it prints is kept for :meth:`output`."""
        proc = subprocess.Popen(
            worker_command(entry, settings),
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE if output else None,
            text=True,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def __len__(self) -> int:
        return len(self.procs)

    def alive(self) -> int:
        """How many still run."""
        return sum(p.poll() is None for p in self.procs)

    def running(self) -> bool:
        return self.alive() > 0

    def codes(self) -> list[int]:
        """The exit codes (once every worker has exited)."""
        return [int(p.returncode) for p in self.procs]

    def signal(self, signum: int) -> None:
        """Pass a signal on to every worker that still runs."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signum)

    def wait(self, timeout_s: float | None = None) -> list[int]:
        """Block until every worker exits; ``TimeoutError`` if one still runs after ``timeout_s``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for p in self.procs:
            try:
                p.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"{self.alive()} worker process(es) still run after {timeout_s:g} s") from None
        return self.codes()

    def follow(self, poll: Callable[[], None], every_s: float = 0.5) -> list[int]:
        """Call ``poll`` every ``every_s`` until every worker exited (each reaped as it exits,
        killed ones too). Ctrl-C raises ``Interrupted`` at once."""
        while self.running():
            wait_or_stop(every_s)
            poll()
        return self.codes()

    def end(self, signum: int, *, kill_after_s: float | None = None) -> list[int]:
        """Pass ``signum`` on and wait for every worker to exit; a second Ctrl-C meanwhile is
        passed on too (the workers then stop at once); a worker that still runs after
        ``kill_after_s`` is killed."""
        self.signal(signum)
        deadline = None if kill_after_s is None else time.monotonic() + kill_after_s
        try:
            self._reap(deadline)
        except Interrupted:
            self.signal(signum)
            self._reap(deadline)
        return self.codes()

    def _reap(self, deadline: float | None) -> None:
        for p in self.procs:
            try:
                p.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def output(self) -> list[str]:
        """The lines the workers started with ``output`` printed (read once they exited)."""
        return [line for p in self.procs if p.stdout is not None for line in p.stdout.read().splitlines()]
