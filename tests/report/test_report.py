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
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from workbench.report.html import build_comparison, write_report
from workbench.study import Experiment, open_experiment

from .conftest import HOSTILE, _experiment

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


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
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in text  # shown, as text


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
    dom = subprocess.run(
        [*offline, "--window-size=1280,2400", "--dump-dom", url], capture_output=True, text=True, timeout=180
    ).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    status = {k: v.replace("&quot;", '"') for k, v in re.findall(r'data-([\w-]+)="([^"]*)"', body.group(1))}
    assert int(status["charts"]) >= 10
    assert status["rendered"] == status["charts"], status  # plotly drew every chart
    assert json.loads(status["errors"]) == []  # no JavaScript error
    assert json.loads(status["clipped-titles"]) == []  # every title fits its panel
    assert json.loads(status["markers-outside"]) == []  # every marked value (the observed statistic) is on its axis
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


def _request(url: str, method: str = "GET", host: str | None = None) -> int:
    request = urllib.request.Request(url, method=method, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_dashboard_is_read_only_and_answers_only_to_its_own_host_name(stored: Experiment) -> None:
    """Before: `curl -X DELETE .../api/studies/2` answered 204 and the family's study was gone;
    a request with `Host: attacker.example` (DNS rebinding) was answered."""
    from workbench.report.dashboard import serve_in_background

    dashboard = serve_in_background(stored)
    api = dashboard.url.replace("/dashboard/", "/api/studies")
    try:
        with urllib.request.urlopen(api, timeout=10) as r:
            ids = {s["study_name"]: s["study_id"] for s in json.load(r)["study_summaries"]}
        mlp = f"{api}/{ids['tables/mlp']}"
        assert _request(mlp, "DELETE") == 405
        assert _request(f"{mlp}/note", "PUT") == 405 and _request(api, "POST") == 405
        assert _request(mlp, host="attacker.example") == 403
        assert _request(mlp, host=f"attacker.example:{dashboard.server.server_port}") == 403
        assert _request(mlp) == 200 and _request(mlp, "HEAD") == 200
        assert _request(mlp, host=f"localhost:{dashboard.server.server_port}") == 200
    finally:
        dashboard.stop()
    assert len(stored.study("mlp").trials) > 0  # still there


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
