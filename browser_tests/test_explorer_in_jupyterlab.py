"""Notebooks 04 and 06 in a real browser: JupyterLab on 127.0.0.1 with a token, Debian's Chromium driven headless
by Playwright. Run all, wait for the latent explorer (in z in 04, in a style-based G's w in 06), drag a direction
slider and, in w, the truncation slider, and check that the face changed each time.

`make browser-test` installs Chromium and runs this. By default the notebooks run in tiny mode; with GAN_LIB_RUN_DIR
(and GAN_LIB_DATA) notebook 04 loads that run's trained generator instead, and EXPLORER_SCREENSHOT names where its
explorer's screenshot goes (the README's: `make browser-screenshot`).
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("GAN_LIB_CHROMIUM", "/usr/bin/chromium")
# Headless, and no calls home: this machine's closed network refuses them, and they slow every start.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NOTEBOOK_MINUTES = 10  # run all, in tiny mode, takes well under a minute once the attribute classifier is cached
NOTEBOOKS = ("04_results.ipynb", "06_style_based_generator.ipynb")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server serving copies of notebooks 04 and 06; yields (base URL, token, their folder)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make browser-test` (it installs Debian's chromium) or set "
                    "GAN_LIB_CHROMIUM to a Chromium or Chrome binary")
    root = tmp_path_factory.mktemp("lab")
    for notebook in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / notebook, root)
    settings = root / ".lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')  # no news toast
    # the copies stay as the repository has them: no outputs of one test saved into the next one's notebook
    docmanager = root / ".lab-settings" / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
    docmanager.parent.mkdir(parents=True)
    docmanager.write_text('{"autosave": false}')
    # every cell rendered, on screen or not: JupyterLab's default skips drawing those out of view, and Run All
    # scrolls past notebook 06's explorer to the cells below it
    tracker = root / ".lab-settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / ".jupyter"),
               JUPYTERLAB_SETTINGS_DIR=str(root / ".lab-settings"))
    if os.environ.get("GAN_LIB_RUN_DIR"):  # a trained generator, for the README's screenshot
        env["GAN_LIB_RUN_DIR"] = str(Path(os.environ["GAN_LIB_RUN_DIR"]).resolve())
        env.pop("GAN_LIB_TINY", None)
    else:
        env["GAN_LIB_TINY"] = "1"
    port, token = _free_port(), secrets.token_hex(16)
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI runs as root
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as reply:
                    json.load(reply)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab exited with {server.returncode}: {(root / 'jupyterlab.log').read_text()}")
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within a minute")
        yield url, token, root
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def _drag(panel, slider: str, pixels: int) -> str:
    """Drag the first handle of the sliders matching `slider` in the notebook's panel by `pixels` to the right, wait
    for the face to change, and return the slider's readout."""
    from playwright.sync_api import expect

    page, face = panel.page, panel.locator(".explorer-face").first
    before = face.get_attribute("src")
    handle = panel.locator(f"{slider} .noUi-handle, {slider} .ui-slider-handle").first  # ipywidgets 8, 7
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + pixels, box["y"] + box["height"] / 2, steps=12)
    page.mouse.up()
    expect(face).not_to_have_attribute("src", before, timeout=60_000)
    return panel.locator(f"{slider} .widget-readout").first.inner_text()


def _errors(panel):
    """The error outputs (tracebacks) in the notebook's panel."""
    return panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")


def _where_it_stopped(panel, root: Path) -> str:
    """What a run that did not reach the explorer left: the cell running, the first error, the server log's end."""
    running = [p for p in panel.locator(".jp-InputPrompt").all_inner_texts() if "*" in p]
    errors = _errors(panel)
    log = (root / "jupyterlab.log").read_text().splitlines()[-15:]
    return "\n".join([f"cells running: {running or 'none'}",
                      f"first error: {errors.first.inner_text() if errors.count() else 'none'}",
                      "end of the JupyterLab log:", *log])


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_dragged_slider_changes_the_face_in_jupyterlab(lab, notebook):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    url, token, root = lab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        # a workspace of its own: the default one reopens the notebooks earlier tests opened, their kernels still live
        page.goto(f"{url}/lab/workspaces/{notebook[:2]}/tree/{notebook}?token={token}")
        panel = page.locator(".jp-NotebookPanel")
        panel.first.wait_for(timeout=120_000)
        page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for(timeout=120_000)  # kernel started
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

        face = panel.locator(".explorer-face").first  # 04: the explorer of section 6 (an exercise adds another)
        try:
            face.wait_for(state="visible", timeout=NOTEBOOK_MINUTES * 60_000)
            # Run All goes on below the explorer, and JupyterLab scrolls to each cell it runs: drag once all have run
            page.wait_for_function("() => ![...document.querySelectorAll('.jp-InputPrompt')]"
                                   ".some(p => p.textContent.includes('*'))", timeout=NOTEBOOK_MINUTES * 60_000)
        except PlaywrightTimeout:
            pytest.fail(f"{notebook} did not finish with its explorer drawn in {NOTEBOOK_MINUTES} minutes\n"
                        + _where_it_stopped(panel, root))
        errors = _errors(panel)
        assert errors.count() == 0, errors.first.inner_text()
        assert panel.count() == 1, f"{panel.count()} notebooks open, not only {notebook}"
        face.scroll_into_view_if_needed()
        assert face.get_attribute("src"), "the explorer's face has no picture"

        readout = _drag(panel, ".explorer-direction", 90)
        assert float(readout) > 0, f"the slider reads {readout} after a drag to the right"
        if notebook.startswith("06"):  # in w, truncation draws the face towards the average w
            readout = _drag(panel, ".explorer-truncation", -90)
            assert float(readout) < 1, f"the truncation slider reads {readout} after a drag to the left"

        default = root / f"explorer-{notebook[:2]}.png"
        shot = Path(os.environ.get("EXPLORER_SCREENSHOT", default)) if notebook.startswith("04") else default
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(500)  # the strip's new picture lands just after the face's
        panel.locator(".latent-explorer").first.screenshot(path=str(shot))
        print(f"screenshot of the explorer: {shot}")
        browser.close()
