"""The README's pictures, generated (never drawn by hand): the verdict chart and a profile
figure of a small GunPoint experiment, and the live study view in JupyterLab.

    .venv/bin/python scripts/readme_images.py [--out docs/images]

Charts are rendered by the system's headless Chromium from the same plotly figures the report
and the notebooks show; the live view is the element screenshot that the real-browser notebook
test takes (tests/notebooks/test_in_browser.py), so it shows exactly what that test checks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import plotly.graph_objects as go

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 200_000


def figure_png(fig: go.Figure, path: Path, *, width: int = 760, height: int = 380) -> None:
    """``fig`` as a PNG of ``width`` × ``height`` pixels, drawn by headless Chromium offline."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is needed: run scripts/system-packages (as root) first.")
    fig = go.Figure(fig).update_layout(width=width, height=height, margin={"l": 60, "r": 20, "t": 70, "b": 50})
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "figure.html"
        html = fig.to_html(include_plotlyjs=True, full_html=True, config={"staticPlot": True})
        page.write_text(html.replace("<body>", '<body style="margin:0">'))
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--virtual-time-budget=10000",
                f"--window-size={width},{height}",
                f"--screenshot={path}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def charts(out: Path) -> None:
    from workbench import evaluate, make_config, run_study
    from workbench.report import figures

    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(
            {
                "name": "readme",
                "data": "GunPoint",
                "families": ["mlp", "conv1d", "hybrid"],
                "baselines": ["linear", "minirocket"],
                "budget": {"trials": 2},
                "runs_dir": tmp,
                "evaluation": {"top_k": 1, "seeds": 5},
            }
        )
        exp = run_study(config, workers="auto", echo=lambda _: None)
        _, verdict = evaluate(exp, workers="auto", echo=lambda _: None)
        assert exp.profile is not None
        figure_png(figures.verdict_figure(verdict), out / "verdict.png")
        figure_png(figures.autocorrelation_figure(exp.profile), out / "profile-autocorrelation.png")


def live_view(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        test = ROOT / "tests" / "notebooks" / "test_in_browser.py"
        env = {**os.environ, "TEST_ARTIFACTS": tmp}
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)], check=True, env=env, cwd=ROOT
        )
        shutil.copy(Path(tmp) / "live-study-view.png", out / "live-study.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    charts(out)
    live_view(out)
    for png in sorted(out.glob("*.png")):
        size = png.stat().st_size
        print(f"{png}: {size / 1000:.0f} KB")
        if size > MAX_BYTES:
            raise SystemExit(f"{png} is {size / 1000:.0f} KB, over the README's {MAX_BYTES / 1000:.0f} KB per picture")


if __name__ == "__main__":
    main()
