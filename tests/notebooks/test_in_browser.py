"""Notebook 4 in a real browser: JupyterLab in headless Chromium (the system's, driven by
Selenium through Debian's chromedriver; no browser is downloaded) runs the notebook's first
cells, and the live study view renders and updates while the study runs in the background."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.lab_server import TOKEN, jupyterlab

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_model_selection_study.ipynb"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))

# The view's state, read from the page: each family's label and bar width, and whether a chart is drawn.
READ_VIEW = """
const views = document.querySelectorAll('.workbench-live-study');
if (!views.length) return null;
const view = views[views.length - 1];  // the watch's (start_study shows its notes in one too)
const rows = Array.from(view.querySelectorAll('.workbench-family')).map(row => {
  const bar = row.querySelector('.progress-bar');
  return [row.innerText.replace(/\\s+/g, ' ').trim(), bar ? bar.style.width || bar.style.height : ''];
});
const output = view.closest('.jp-OutputArea');
return {rows: rows, chart: !!(output && output.querySelector('.js-plotly-plot .main-svg'))};
"""


def _first_cells(path: Path) -> nbformat.NotebookNode:
    """Notebook 4 up to its live view, with a budget of two trials (its proven defaults) per
    deep family and one baseline, so that the browser sees the view through a whole study."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = []
    for cell in nb.cells:
        cells.append(copy.deepcopy(cell))
        if cell.cell_type == "code" and "handle.watch()" in cell.source:
            break
        if cell.cell_type == "code" and "config = make_config(values)" in cell.source:
            override = 'config = make_config({**values, "budget": {"trials": 2}, "baselines": ["linear"]})'
            cells.append(nbformat.v4.new_code_cell(override))
    cells[1].source = 'QUICK = True\nEXPERIMENT = "browser"'
    nb.cells = cells
    nbformat.write(nb, path)
    return nb


DEEP = ("mlp", "conv1d", "hybrid")


def _by_family(view: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The view's rows by family: its label and its bar's width."""
    return {label.split()[0]: (label, width) for label, width in view["rows"]}


def _all_done(rows: dict[str, tuple[str, str]]) -> bool:
    return all(f in rows and ("2/2 trials" in rows[f][0] or "stopped after" in rows[f][0]) for f in DEEP)


def _stop_workers(root: Path) -> None:
    """Whatever happened in the browser, no worker of this test's study outlives it."""
    found = subprocess.run(["pgrep", "-f", "worker_main"], capture_output=True, text=True).stdout.split()
    for pid in map(int, found):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd.startswith(str(root)):
            os.kill(pid, signal.SIGINT)


@pytest.mark.slow
def test_the_live_study_view_renders_and_updates_in_jupyterlab(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("Chromium and chromedriver cannot be installed here (scripts/system-packages needs root and apt).")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    root = tmp_path / "lab"
    root.mkdir()
    _first_cells(root / "live.ipynb")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,2000",
    ):
        options.add_argument(arg)
    with jupyterlab(root) as lab:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
        try:
            driver.get(f"{lab.url}/lab/tree/live.ipynb?token={TOKEN}")
            wait = WebDriverWait(driver, 180)
            wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")))
            wait.until(
                lambda d: d.execute_script(
                    "return document.querySelector('.jp-Notebook-ExecutionIndicator')"
                    " !== null || document.querySelector('.jp-KernelStatus') !== null"
                )
            )
            time.sleep(2)  # the kernel starts with the notebook
            run_menu = driver.find_element(By.XPATH, "//div[contains(@class,'lm-MenuBar-itemLabel') and text()='Run']")
            run_menu.click()
            run_all = "//li[contains(@class,'lm-Menu-item')][.//div[text()='Run All Cells']]"
            wait.until(expected_conditions.element_to_be_clickable((By.XPATH, run_all))).click()
            snapshots: list[dict[str, Any]] = []
            deadline = time.monotonic() + 420
            while time.monotonic() < deadline:
                view = driver.execute_script(READ_VIEW)
                if view is not None and (not snapshots or view != snapshots[-1]):
                    snapshots.append(view)
                if view is not None and _all_done(_by_family(view)):
                    break
                time.sleep(1)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            view_output = driver.execute_script(
                "const v = Array.from(document.querySelectorAll('.workbench-live-study')).pop();"
                "return v && v.closest('.jp-Cell-outputArea');"
            )
            if view_output is not None:  # the view alone: scripts/readme_images.py puts it in the README
                view_output.screenshot(str(ARTIFACTS / "live-study-view.png"))
            assert snapshots, "the live study view never appeared"
            final = _by_family(snapshots[-1])
            assert _all_done(final), final
            assert all(final[family][1] == "100%" for family in DEEP), final  # full bars
            assert snapshots[-1]["chart"], "the chart of the best scores was not drawn"
            assert len(snapshots) >= 3, snapshots  # it updated as trials finished, not once at the end
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(ARTIFACTS / "jupyterlab-live-study.png"))  # also what a failure looked like
            driver.quit()
            _stop_workers(root)
