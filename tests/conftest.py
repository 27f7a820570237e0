from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


class CliResult(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """The command line run in this process (no fresh interpreter to pay for): its exit code and
    what it printed, as ``workbench ARGS...`` gives them."""
    from workbench.cli import invoke

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = invoke([str(a) for a in args])
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
