"""The Optuna dashboard inside JupyterLab: a real JupyterLab server, started headless with
token auth on 127.0.0.1, has the jupyterlab-optuna extension installed and enabled, and its
dashboard API serves a stored experiment's studies."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.lab_server import Lab, jupyterlab
from workbench.study import Experiment


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with jupyterlab(tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.mark.slow
def test_jupyterlab_has_the_optuna_extension_installed_and_enabled(lab: Lab) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True, timeout=120
    )
    line = next((ln for ln in (listed.stdout + listed.stderr).splitlines() if "jupyterlab-optuna" in ln), "")
    assert "enabled" in line and "OK" in line, listed.stdout + listed.stderr
    # The server half: its own API answers behind the lab's token.
    assert lab.call("/jupyterlab-optuna/api/is_initialized")["is_initialized"] in (True, False)
    with pytest.raises(urllib.error.HTTPError) as refused:  # and nothing without the token
        urllib.request.urlopen(f"{lab.url}/jupyterlab-optuna/api/is_initialized", timeout=10)
    assert refused.value.code == 403


@pytest.mark.slow
def test_the_dashboard_in_jupyterlab_serves_the_experiments_studies(
    lab: Lab, stored: Experiment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: ``lab_dashboard`` gave a URL to paste into the extension's dialog, which opened on the
    server's folder. Now the kernel loads the experiment into the lab's dashboard itself."""
    from workbench.report.dashboard import lab_dashboard

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(lab.root / ".runtime"))  # where a kernel finds its server
    opened = lab_dashboard(stored)  # writes the notes and loads the storage into the lab's dashboard
    assert opened.storage_url.startswith("sqlite:////") and opened.storage_url in str(opened)
    assert opened.server is not None and opened.server.startswith(lab.url) and "is loaded" in str(opened)
    assert lab.call("/jupyterlab-optuna/api/is_initialized")["is_initialized"]
    studies = lab.call("/jupyterlab-optuna/api/studies")["study_summaries"]
    names = {s["study_name"]: s["study_id"] for s in studies}
    assert {"tables/mlp", "tables/conv1d", "tables/linear"} <= set(names)
    detail = lab.call(f"/jupyterlab-optuna/api/studies/{names['tables/mlp']}")
    assert len(detail["trials"]) == 3 and "## Verdict" in detail["note"]["body"]
    record = lab.call(f"/jupyterlab-optuna/api/studies/{names['tables']}")  # the experiment's own study
    assert "The record of experiment `tables`" in record["note"]["body"]
