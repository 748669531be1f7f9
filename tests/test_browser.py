"""The playground in a real browser: JupyterLab from this venv, Debian's Chromium, Playwright.

The test starts its own JupyterLab on a free port, serving a temporary copy of the notebook
(JupyterLab may autosave, and the committed notebook must stay as it is), runs every cell,
presses the panel's Run button and checks that the results table and the plot appear. A
screenshot goes to test-artifacts/playground.png. Nothing here downloads a browser: Playwright
drives /usr/bin/chromium, which CI installs with apt.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "05_playground.ipynb"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_SECONDS = 60
# Run All: TensorFlow starts in the kernel, then the notebook's own check presses Run twice.
RUN_ALL_SECONDS = 120
PRESS_SECONDS = 90

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer at {url} within {SERVER_START_SECONDS} s:\n{log.read_text()[-3000:]}")


def start_kernel(base: str, name: str) -> None:
    """Start the notebook's kernel before the page opens: JupyterLab then attaches to it instead
    of racing its kernel list and, now and then, asking which kernel to use."""
    body = json.dumps({"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(base + "api/sessions", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 201, f"could not start the kernel: HTTP {answer.status}"


def stop_tree(process: subprocess.Popen) -> None:
    """Stop the server, then whatever it started (kernels, and the kernels' worker processes)."""
    import psutil

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.terminate()  # the server shuts its kernels down on SIGTERM
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; missing is a failure, not a skip, so CI cannot pass without the browser test."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; install Debian's Chromium with `apt-get install chromium` "
                    "(CI does this in .ci/run).")
    return CHROMIUM


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[str]:
    """A JupyterLab serving a copy of the playground notebook, isolated from the user's settings."""
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy2(NOTEBOOK, root / NOTEBOOK.name)
    home = tmp_path / "jupyter"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    # Nor ask about a news feed in a toast over the notebook (JupyterLab's own user setting).
    notification = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}', encoding="utf-8")
    port = free_port()
    log = tmp_path / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
        # Lets the test start the kernel with one plain POST; the server only listens on 127.0.0.1.
        "--ServerApp.disable_check_xsrf=True",
        # No update check or extension catalogue: nothing may reach for the network.
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")  # CI runs as root in a container
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_for_server(base + "api/status", process, log)
        start_kernel(base, NOTEBOOK.name)
        yield base
    finally:
        stop_tree(process)


def test_playground_panel_runs_in_jupyterlab(chromium: Path, jupyterlab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    committed = NOTEBOOK.read_bytes()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            # Opened from the file browser once the launcher lists the kernels: a notebook opened
            # by URL can race JupyterLab's kernel list and then ask which kernel to use.
            page.goto(jupyterlab + "lab", wait_until="domcontentloaded")
            expect(page.locator(".jp-LauncherCard", has_text="Python 3").first).to_be_visible(timeout=60_000)
            # JupyterLab shows the kernel as idle before it has even connected, and Run All before
            # the connection asks which kernel to use; the kernel's websocket opening is the real sign.
            with page.expect_websocket(lambda socket: "/api/kernels/" in socket.url, timeout=60_000):
                page.locator(".jp-DirListing-item", has_text=NOTEBOOK.name).dblclick()
            expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text(re.compile(r"^Python 3.* \| Idle$"))).to_be_visible(timeout=60_000)
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            # The notebook's own check (two presses from code) ends with its verdicts.
            verdicts = page.locator(".jp-OutputArea-output", has_text="both presses kept in one table: True")
            expect(verdicts).to_have_count(1, timeout=RUN_ALL_SECONDS * 1000)
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
                1, timeout=30_000)

            # The first panel is the playground; press its Run button as a reader would.
            panel = page.locator(".repro-panel").first
            panel.scroll_into_view_if_needed()
            expect(panel.locator(".repro-table table")).to_have_count(0)
            gpu = panel.locator(".widget-toggle-button", has_text="gpu")
            if "none here" in gpu.inner_text():  # no GPU: choosing it is refused, visibly
                gpu.click()
                expect(panel.locator(".repro-status")).to_contain_text("Device gpu is not available")
                expect(panel.locator(".widget-toggle-button.mod-active", has_text="auto")).to_have_count(1)
            panel.locator(".repro-run").click()
            status = panel.locator(".repro-status")
            expect(status).to_contain_text("Press 1 done", timeout=PRESS_SECONDS * 1000)
            expect(panel.locator(".repro-table table tbody tr")).to_have_count(3)
            expect(panel.locator(".repro-plot img")).to_be_visible()
            expect(panel.locator(".repro-progress")).to_be_visible()
            image_width = panel.locator(".repro-plot img").evaluate("img => img.naturalWidth")
            assert image_width > 100, "the plot image did not load"
            panel.scroll_into_view_if_needed()
            panel.screenshot(path=str(ARTIFACTS / "playground.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "playground-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert NOTEBOOK.read_bytes() == committed, "the committed notebook must not change"
