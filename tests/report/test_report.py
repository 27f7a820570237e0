"""The HTML report, the comparison page and the dashboard, built from stored experiments."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench.config import make_config
from workbench.report.html import build_comparison, write_report
from workbench.study import Experiment, evaluate, open_experiment, run_study

HOSTILE = "<script>alert('pwned')</script>"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


def _experiment(
    folder: Path, name: str, *, seed: int, families: list[str], baselines: tuple[str, ...] = ("linear",)
) -> Experiment:
    """A small stored, evaluated experiment on a table whose first column name is hostile HTML."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    frame = pd.DataFrame(X, columns=[HOSTILE, "b", "c", "d", "e", "f"]).assign(label=y)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    config = make_config(
        {
            "name": name,
            "data": str(path),
            "layout": "NF",
            "target": "label",
            "families": families,
            "baselines": list(baselines),
            "budget": {"trials": 3},
            "max_epochs": 5,
            "min_steps": 0,
            "patience": None,
            "runs_dir": str(folder / "runs"),
            "profile_budget_s": 0,
            "validation": {"strategy": "kfold", "folds": 3, "repeats": 1},
            "evaluation": {"top_k": 1, "seeds": 2},
            "seed": seed,
        }
    )
    exp = run_study(config, echo=lambda _: None)
    evaluate(exp, echo=lambda _: None)
    return exp


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    return _experiment(tmp_path_factory.mktemp("report"), "tables", seed=0, families=["mlp", "conv1d"])


@pytest.fixture(scope="module")
def report(stored: Experiment) -> Path:
    return write_report(stored)


def test_the_report_is_rebuilt_from_the_storage_alone(stored: Experiment, report: Path) -> None:
    reopened = open_experiment(stored.config.name, stored.config.storage_url, echo=lambda _: None)
    text = write_report(reopened, report.with_name("again.html")).read_text()
    assert report == stored.config.run_dir / "report.html"
    for section in ("Verdict", "Data profile", "Validation", "Family mlp", "Family conv1d", "Leaderboard: all trials"):
        assert section in text
    verdict = reopened.meta().user_attrs["verdict"]
    assert verdict["statement"].split(":")[0] in text  # the verdict sentence itself
    assert stored.meta().user_attrs["data_fingerprint"] in text
    assert "kfold: 3 folds" in text  # the validation strategy and per-fold scores
    assert "proven defaults, run first: default #1 (trial 0)" in text and "default #2" in text
    # self-contained: plotly.js is inline and nothing is fetched from anywhere
    assert "Plotly" in text and not re.search(r"<(script|link|img)[^>]+(src|href)=.?https?:", text)


def test_user_strings_are_escaped(report: Path) -> None:
    text = report.read_text()
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in text


def test_a_headless_browser_renders_every_chart_offline(report: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("Chromium is missing: `make test` installs it (scripts/system-packages).")
    offline = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--proxy-server=127.0.0.1:9",  # nothing listens there: every network request fails
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=20000",
    ]
    url = report.resolve().as_uri()
    dom = subprocess.run([*offline, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    status = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))
    assert int(status["charts"]) >= 10
    assert status["rendered"] == status["charts"], status  # plotly drew every chart
    assert json.loads(status["errors"].replace("&quot;", '"')) == []  # no JavaScript error
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run(
        [*offline, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=180,
    )
    assert shot.is_file() and shot.stat().st_size > 50_000  # a real rendering, not a blank page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_dashboard_serves_the_experiment_with_its_notes(stored: Experiment) -> None:
    port = _free_port()
    cmd = [sys.executable, "-m", "workbench.cli", "dashboard", stored.config.name, "--storage"]
    cmd += [stored.config.storage_url, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        studies = None
        deadline = time.monotonic() + 90
        while studies is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as r:
                    studies = json.load(r)["study_summaries"]
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.5)
        assert studies is not None, "the dashboard did not answer within 90 s"
        names = {s["study_name"]: s["study_id"] for s in studies}
        assert {"tables/mlp", "tables/conv1d", "tables/linear"} <= set(names)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{names['tables/mlp']}", timeout=10) as r:
            detail: dict[str, Any] = json.load(r)
        assert "## Verdict" in detail["note"]["body"] and "recommends" in detail["note"]["body"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode is not None


def test_a_notebook_can_serve_the_dashboard_without_blocking(stored: Experiment) -> None:
    from workbench.report.dashboard import serve_in_background

    dashboard = serve_in_background(stored)
    try:
        api = dashboard.url.replace("/dashboard/", "/api/studies")
        with urllib.request.urlopen(api, timeout=10) as r:
            names = {s["study_name"] for s in json.load(r)["study_summaries"]}
        assert {"tables/mlp", "tables/conv1d"} <= names
    finally:
        dashboard.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(api, timeout=2)


@pytest.mark.slow
def test_comparing_experiments_ranks_families_with_a_critical_difference_diagram(tmp_path: Path) -> None:
    import matplotlib

    exps = [_experiment(tmp_path, f"cmp{i}", seed=i, families=["mlp"], baselines=("linear", "gbm")) for i in range(4)]
    matplotlib.use("pdf")  # a user's backend (a notebook's inline one, say) ...
    page = build_comparison(exps)
    assert matplotlib.get_backend() == "pdf"  # ... is left as it was (before: switched to Agg)
    assert "Average rank over datasets" in page and "critical-difference diagram" in page
    assert 'src="data:image/png;base64,' in page
    assert "needs at least" in build_comparison(exps[:2])  # too few datasets: said, not drawn


def test_notebook_leaderboards_are_styled_frames(stored: Experiment) -> None:
    from workbench.report.tables import trials_leaderboard, verdict_table
    from workbench.study import stored_verdict

    board = trials_leaderboard(stored, top=5)
    assert 0 < len(board.data) <= 5 and (board.data["state"] == "COMPLETE").all()
    assert "<table" in board.to_html()
    verdict = stored_verdict(stored)
    assert verdict is not None
    table = verdict_table(verdict)
    assert set(table.data["family"]) == {"mlp", "conv1d", "linear"} and "gap (val − test)" in table.data
