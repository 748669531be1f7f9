"""Every notebook in a real browser: JupyterLab from this venv, Debian's Chromium, Playwright.

One JupyterLab and one Chromium serve the whole module. Each notebook (every notebooks/*.ipynb,
found when the tests are collected) runs top to bottom in a temporary copy of the notebooks
folder of its own -- notebooks write cards and demo folders next to themselves, and the
committed files must not change -- through JupyterLab's own Run All. A notebook fails on any
error output, any cell left unrun, a traceback on stderr, and any widget that did not render:
a widget output without its rendered view, or an output that is only a widget's text stand-in
(``VBox(children=...)``, a tqdm text bar where its widget should be). A screenshot of each whole
notebook goes to test-artifacts/<notebook>.png, and the times to test-artifacts/browser-times.txt.

The playground is then driven as a reader would: its Run button pressed, the table and plot
checked. Nothing here downloads a browser: Playwright drives /usr/bin/chromium, which CI
installs with apt.
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
from typing import Any

import pytest

from tests.conftest import find_browser
from tools.notebook_tools import verdicts as VERDICTS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
PLAYGROUND = "05_playground"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_SECONDS = 60
OPEN_SECONDS = 60
# These catch a hang, they time nothing (the benchmark does, docs/speed.md). CI runs the Colab check beside
# these tests on two cores, where notebooks took two to three times as long as alone (07: 111 s here, 39 s alone).
RUN_ALL_SECONDS = 420
WIDGETS_SETTLE_SECONDS = 20
PRESS_SECONDS = 180
VIEWPORT = {"width": 1400, "height": 1100}
MAX_SCREENSHOT_HEIGHT = 30000  # pixels of notebook in one stitched screenshot; a longer one is cut
SCREENSHOT_SECONDS = 20
# What the generated files of a notebook run look like (as in .gitignore): not copied.
GENERATED = shutil.ignore_patterns("card-*.json", "cards", "workshop-demo", ".ipynb_checkpoints", "__pycache__")

pytestmark = pytest.mark.browser
# Notebooks a test leaves open for the next one (the playground, for its Run-button test).
OPEN: dict[str, str] = {}


def _widget_classes() -> str:
    import ipywidgets

    names = {name for name, value in vars(ipywidgets).items()
             if isinstance(value, type) and issubclass(value, ipywidgets.DOMWidget)}
    return "|".join(sorted(names, key=len, reverse=True))


# The text an unrendered widget leaves: its repr ("VBox(children=(...", "Output()"), or for
# tqdm's widget bar its text bar ("runs: 100%|██████████| 2/2 [00:03<00:00]").
STAND_IN = re.compile(rf"^\s*(?:{_widget_classes()})\((?:\w+=|\))|\d+%\|[^|\n]*\|\s*\d+/\d+", re.MULTILINE)
NOT_RENDERED = ("Error displaying widget", "Loading widget", "Widget Javascript not detected")

# --------------------------------------------------------------------------- the server


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


def start_kernel(base: str, path: str) -> None:
    """Start the notebook's kernel before the page opens it: JupyterLab then attaches to it instead
    of racing its kernel list and, now and then, asking which kernel to use."""
    body = json.dumps({"path": path, "name": path, "type": "notebook", "kernel": {"name": "python3"}}).encode()
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


def write_settings(home: Path) -> None:
    """JupyterLab's own user settings for a test: no news toast over the notebook, no autosave,
    and every cell kept in the page (not windowed), so all outputs render and show in a screenshot."""
    settings = {
        ("apputils-extension", "notification"): {"fetchNews": "false", "checkForUpdates": False},
        ("docmanager-extension", "plugin"): {"autosave": False},
        ("notebook-extension", "tracker"): {"windowingMode": "none"},
    }
    for (extension, plugin), values in settings.items():
        path = home / "settings" / "@jupyterlab" / extension / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


@pytest.fixture(scope="module")
def chromium() -> Path:
    """A Chromium-family browser: Debian's Chromium on Linux (and in CI), Chrome or Edge on macOS and
    Windows. Missing is a failure on Linux and in CI, so CI cannot pass without the browser test;
    elsewhere the test is skipped with the sentence that says how to get one (and the notebooks run
    under nbval instead: see conftest.py)."""
    found = find_browser()
    if found is not None:
        return found
    if os.environ.get("REPRO_LAB_BROWSER"):
        pytest.fail(f"REPRO_LAB_BROWSER names {os.environ['REPRO_LAB_BROWSER']}, which is not a file.")
    if sys.platform.startswith("linux") or os.environ.get("CI"):
        pytest.fail("Chromium is missing; install Debian's Chromium with `apt-get install chromium` "
                    "(CI does this in .ci/run).")
    pytest.skip("no Chrome, Edge or Chromium found; install Google Chrome, or set REPRO_LAB_BROWSER to a "
                "Chromium-family browser, to run the notebooks in a real browser.")


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="module")
def jupyterlab(lab_root: Path) -> Iterator[str]:
    """One JupyterLab for the module, serving ``lab_root`` and isolated from the user's settings."""
    home = lab_root.parent / "jupyter"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    write_settings(home)
    port = free_port()
    log = lab_root.parent / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={lab_root}",
        # Lets the test start kernels with one plain POST; the server only listens on 127.0.0.1.
        "--ServerApp.disable_check_xsrf=True",
        # No update check or extension catalogue: nothing may reach for the network.
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
        # window.jupyterapp: the test opens, runs and reads notebooks through JupyterLab's own commands.
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")  # CI runs as root in a container
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=lab_root)
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_for_server(base + "api/status", process, log)
        yield base
    finally:
        stop_tree(process)


# --------------------------------------------------------------------------- the browser


class Timings:
    """Seconds per notebook (open, Run All, checks, screenshot) and for the whole module."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.notebooks: dict[str, float] = {}

    def report(self) -> str:
        lines = [f"{name:32s} {seconds:6.1f} s" for name, seconds in self.notebooks.items()]
        lines.append(f"{'total (server, browser, all)':32s} {time.monotonic() - self.start:6.1f} s")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def timings() -> Iterator[Timings]:
    record = Timings()
    yield record
    ARTIFACTS.mkdir(exist_ok=True)
    text = record.report()
    (ARTIFACTS / "browser-times.txt").write_text(text + "\n", encoding="utf-8")
    print("\nbrowser test times (test-artifacts/browser-times.txt):\n" + text)


@pytest.fixture(scope="module")
def lab_page(chromium: Path, jupyterlab: str, timings: Timings) -> Iterator[Any]:
    """One Chromium page with JupyterLab loaded, for every notebook of the module."""
    from playwright.sync_api import expect, sync_playwright

    committed = {path.name: path.read_bytes() for path in NOTEBOOKS}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        try:
            page.goto(jupyterlab + "lab", wait_until="domcontentloaded")
            # The launcher lists the kernels once JupyterLab knows them: notebooks opened earlier
            # can ask which kernel to use.
            expect(page.locator(".jp-LauncherCard", has_text="Python 3").first).to_be_visible(timeout=60_000)
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=30_000)
            page.evaluate("() => window.jupyterapp.restored")
            # The file browser closed: the notebook gets the page's width, as on a laptop screen.
            page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
            yield page
        finally:
            browser.close()
    changed = [name for name, text in committed.items() if (NOTEBOOK_DIR / name).read_bytes() != text]
    assert not changed, f"the committed notebooks must not change: {changed}"


def open_notebook(page: Any, base: str, lab_root: Path, notebook: Path, folder: str) -> str:
    """Copy the notebooks folder to ``folder`` (under the server's root) for ``notebook`` alone,
    start its kernel and open it there; returns its path as the server names it."""
    from playwright.sync_api import expect

    shutil.copytree(NOTEBOOK_DIR, lab_root / folder, ignore=GENERATED)
    path = f"{folder}/{notebook.name}"
    start_kernel(base, path)
    # JupyterLab shows a kernel as idle before it has even connected; the kernel's websocket
    # opening is the real sign.
    with page.expect_websocket(lambda socket: "/api/kernels/" in socket.url, timeout=OPEN_SECONDS * 1000):
        page.evaluate("async path => { await window.jupyterapp.commands.execute('docmanager:open', "
                      "{path, factory: 'Notebook'}); return true; }", path)
    page.wait_for_function(
        """path => {
            const panel = window.jupyterapp.shell.currentWidget;
            const kernel = panel && panel.context && panel.context.path === path
                && panel.sessionContext.session && panel.sessionContext.session.kernel;
            return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
        }""", arg=path, timeout=OPEN_SECONDS * 1000, polling=250)
    expect(page.locator(".jp-NotebookPanel:visible .jp-Cell").first).to_be_visible(timeout=30_000)
    return path


def run_all(page: Any, path: str) -> dict[str, Any]:
    """JupyterLab's Run All on the open notebook, until every cell has run or the kernel stopped them."""
    page.evaluate(
        """path => {
            window.__runAll = undefined;
            window.jupyterapp.commands.execute('notebook:run-all-cells').then(
                ok => { window.__runAll = {ok: ok !== false}; },
                error => { window.__runAll = {ok: false, error: String(error)}; });
        }""", path)
    page.wait_for_function("() => window.__runAll !== undefined", timeout=RUN_ALL_SECONDS * 1000, polling=500)
    # Widget views render after their output arrives; give them a moment, then look.
    with contextlib.suppress(Exception):
        page.wait_for_function(
            """markers => ![...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')]
                .some(node => markers.some(marker => node.innerText.includes(marker)))""",
            arg=list(NOT_RENDERED[1:]), timeout=WIDGETS_SETTLE_SECONDS * 1000, polling=250)
    return page.evaluate("() => window.__runAll")


READ_NOTEBOOK = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    return panel.content.widgets.map((cell, index) => {
        const model = cell.model;
        if (model.type !== 'code') return {index, type: model.type};
        const outputs = model.outputs.toJSON().map(output => ({
            type: output.output_type, name: output.name || '', ename: output.ename || '',
            evalue: output.evalue || '', text: [].concat(output.text || []).join('').slice(0, 2000),
            mimes: Object.keys(output.data || {})}));
        const shown = [...cell.node.querySelectorAll('.jp-OutputArea-output')].map(node => ({
            mime: node.getAttribute('data-mime-type') || '',  // empty for a widget's view
            text: node.innerText.slice(0, 2000),
            rendered: node.querySelector('.jupyter-widgets, [class*="widget-"]') !== null}));
        return {index, type: 'code', count: model.executionCount, source: model.sharedModel.getSource().slice(0, 60),
                outputs, shown};
    });
}"""


def problems_of(cells: list[dict[str, Any]]) -> list[str]:
    """What a learner would see go wrong: errors, unrun cells, tracebacks, widgets not rendered."""
    problems = []
    for cell in cells:
        if cell["type"] != "code":
            continue
        where = f"cell {cell['index']} ({cell['source'].splitlines()[0] if cell['source'] else 'empty'!r})"
        if cell["count"] is None and cell["source"].strip():
            problems.append(f"{where} never ran")
        for output in cell["outputs"]:
            if output["type"] == "error":
                problems.append(f"{where} raised {output['ename']}: {output['evalue'][:300]}")
            elif output["name"] == "stderr" and "Traceback (most recent call last)" in output["text"]:
                problems.append(f"{where} printed a traceback: {output['text'][-300:]}")
            elif output["name"] == "stderr" and STAND_IN.search(output["text"]):
                problems.append(f"{where} printed a progress bar as text where its widget should be")
        # Every widget output must have become a rendered widget in the page.
        widget_outputs = sum("application/vnd.jupyter.widget-view+json" in o["mimes"] for o in cell["outputs"])
        views = sum(shown["rendered"] for shown in cell["shown"])
        if views < widget_outputs:
            problems.append(f"{where}: {widget_outputs - views} of {widget_outputs} widget output(s) did not "
                            "render as widgets")
        for shown in cell["shown"]:
            text = shown["text"]
            broken = next((marker for marker in NOT_RENDERED if marker in text), None)
            if broken:
                problems.append(f"{where}: a widget did not render ({broken})")
            elif not shown["rendered"] and STAND_IN.search(text):
                problems.append(f"{where}: a widget's text stand-in instead of the widget: {text[:120]!r}")
    return problems


VERDICTS_MARKER = "# NBVAL_CHECK_OUTPUT"


def verdict_problems(notebook: Path, cells: list[dict[str, Any]]) -> list[str]:
    """The verdict cells' printed lines against ``tests/verdicts/<notebook>.toml``: what nbval would
    compare, so a notebook run here need not run under nbval too (see conftest.py)."""
    marked = [(cell["index"], {"execution_count": cell["count"],
                               "outputs": [{"output_type": o["type"], "name": o["name"], "text": o["text"]}
                                           for o in cell["outputs"]]})
              for cell in cells
              if cell["type"] == "code" and cell["source"].lstrip().startswith(VERDICTS_MARKER)]
    registry = VERDICTS.registry_path(notebook.name)
    if not marked and not (REPO / registry).exists():
        return []
    expected = VERDICTS.parse_registry((REPO / registry).read_text(encoding="utf-8"), registry.as_posix())
    return VERDICTS.cell_problems(notebook.name, marked, expected, registry.as_posix())


SCROLLER = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"


def screenshot_notebook(page: Any, name: str) -> None:
    """The whole notebook in one picture, stitched from screenshots of the notebook's scrolling
    area taken a screenful apart (a page made as tall as a notebook made Chromium's screenshots
    hang now and then on a busy machine)."""
    import io

    from PIL import Image

    area = page.locator(SCROLLER)
    box = area.bounding_box()
    assert box, "the notebook's scrolling area is not on the page"
    total = min(MAX_SCREENSHOT_HEIGHT, area.evaluate("node => node.scrollHeight"))
    step = int(box["height"])
    picture = None
    for top in range(0, max(total, 1), step):
        # The last screenful stops where the notebook ends: scrollTop tells where it really is.
        shown = area.evaluate("(node, top) => { node.scrollTop = top; return node.scrollTop; }", top)
        page.wait_for_timeout(150)
        piece = Image.open(io.BytesIO(page.screenshot(clip=box, timeout=SCREENSHOT_SECONDS * 1000)))
        if picture is None:
            picture = Image.new("RGB", (piece.width, round(total * piece.height / box["height"])), "white")
        picture.paste(piece, (0, round(shown * piece.height / box["height"])))
    picture.save(ARTIFACTS / f"{name}.png")


def close_notebook(page: Any) -> None:
    """Shut the notebook's kernel down and close it without saving (the copy is thrown away anyway)."""
    page.evaluate("""async () => {
        const panel = window.jupyterapp.shell.currentWidget;
        if (!panel || !panel.sessionContext) return false;
        await panel.sessionContext.shutdown();
        panel.context.model.dirty = false;
        panel.dispose();
        return true;
    }""")


def end_sessions(base: str, keep: str | None = None) -> None:
    """Shut down every kernel session the server has but ``keep``'s, whatever the page managed:
    a kernel left running (with its worker processes) would slow every notebook after it."""
    with urllib.request.urlopen(base + "api/sessions", timeout=30) as answer:
        sessions = json.load(answer)
    for session in sessions:
        if session.get("path") != keep:
            request = urllib.request.Request(base + f"api/sessions/{session['id']}", method="DELETE")
            with contextlib.suppress(urllib.error.URLError, OSError), urllib.request.urlopen(request, timeout=30):
                pass


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(notebook: Path, lab_page: Any, jupyterlab: str, lab_root: Path,
                                     timings: Timings) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{notebook.stem}-failure.png").unlink(missing_ok=True)
    started = time.monotonic()
    page = lab_page
    try:
        path = open_notebook(page, jupyterlab, lab_root, notebook, notebook.stem)
        result = run_all(page, path)
        cells = page.evaluate(READ_NOTEBOOK)
        (ARTIFACTS / f"{notebook.stem}-outputs.json").write_text(json.dumps(cells, indent=1), encoding="utf-8")
        screenshot_notebook(page, notebook.stem)
        problems = problems_of(cells) + verdict_problems(notebook, cells)
        if not result.get("ok") and not problems:
            problems.append(f"Run All did not finish cleanly: {result}")
        assert not problems, f"{notebook.name} in JupyterLab:\n" + "\n".join(problems)
        if notebook.stem == PLAYGROUND:
            # Left open, run and checked: the next test presses its Run button without running it again.
            OPEN["playground"] = path
    except Exception:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"{notebook.stem}-failure.png"), timeout=SCREENSHOT_SECONDS * 1000)
        raise
    finally:
        if notebook.stem != PLAYGROUND or "playground" not in OPEN:
            with contextlib.suppress(Exception):
                close_notebook(page)
            end_sessions(jupyterlab, keep=OPEN.get("playground"))
        timings.notebooks[notebook.stem] = time.monotonic() - started


def test_playground_panel_runs_in_jupyterlab(lab_page: Any, jupyterlab: str, lab_root: Path,
                                             timings: Timings) -> None:
    """The playground's Run button, pressed as a reader would: in the playground the test above
    left open after running it, or (run alone) in a fresh copy run from the Run menu."""
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "playground-failure.png").unlink(missing_ok=True)
    started = time.monotonic()
    page = lab_page
    notebook = NOTEBOOK_DIR / f"{PLAYGROUND}.ipynb"
    try:
        kept = OPEN.pop("playground", None)
        if kept is not None:  # back to its tab (notebooks opened after it have been closed)
            page.evaluate("""path => {
                const shell = window.jupyterapp.shell;
                const panel = [...shell.widgets('main')].find(w => w.context && w.context.path === path);
                shell.activateById(panel.id);
            }""", kept)
        else:
            open_notebook(page, jupyterlab, lab_root, notebook, f"{PLAYGROUND}-pressed")
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

        # The notebook's own check (two presses from code) ends with its verdicts.
        verdicts = page.locator(".jp-OutputArea-output", has_text="both presses kept in one table: True")
        expect(verdicts).to_have_count(1, timeout=RUN_ALL_SECONDS * 1000)
        expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=30_000)

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
        panel.screenshot(path=str(ARTIFACTS / "playground.png"), timeout=SCREENSHOT_SECONDS * 1000)
    except Exception:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / "playground-failure.png"), timeout=SCREENSHOT_SECONDS * 1000)
        raise
    finally:
        with contextlib.suppress(Exception):
            close_notebook(page)
        end_sessions(jupyterlab)
        timings.notebooks["05_playground (Run pressed)"] = time.monotonic() - started


def test_the_browser_run_checks_the_verdicts_as_nbval_would() -> None:
    """What the notebooks print in the browser is held to tests/verdicts/, so a flipped or missing
    verdict fails here as it would under nbval (which the browser run replaces in a session)."""
    notebook = NOTEBOOK_DIR / "04_across_machines.ipynb"
    registry = VERDICTS.registry_path(notebook.name)
    # The lines themselves come from the registry: this tests the check, not today's wording.
    first, second = VERDICTS.parse_registry((REPO / registry).read_text(encoding="utf-8"), registry.as_posix())
    good = {"index": 19, "type": "code", "count": 3, "source": "# NBVAL_CHECK_OUTPUT\nstages",
            "outputs": [{"type": "stream", "name": "stdout", "text": first}]}
    imitate = {"index": 23, "type": "code", "count": 4, "source": "# NBVAL_CHECK_OUTPUT\nprint(Verdict(",
               "outputs": [{"type": "stream", "name": "stdout", "text": second}]}
    assert verdict_problems(notebook, [good, imitate]) == []
    flipped = {**imitate, "outputs": [{**imitate["outputs"][0], "text": imitate["outputs"][0]["text"]
                                       .replace("True", "False")}]}
    (problem,) = verdict_problems(notebook, [good, flipped])
    assert f"expected \"{second.strip()}\"" in problem and second.strip().replace("True", "False") in problem
    (missing,) = verdict_problems(notebook, [good])
    assert "has 1 verdict cells but tests/verdicts/04_across_machines.toml lists 2" in missing
    unrun = {**imitate, "count": None}
    assert "no execution count" in verdict_problems(notebook, [good, unrun])[0]
