"""Shared fixtures. Tests that start worker processes are marked ``slow``: each TensorFlow start
costs about 2 s, so they share runs through module-scoped fixtures where they can."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.core.config import RunConfig
from helpers.core.results import RunResult

REPO = Path(__file__).resolve().parents[1]
# Chromium-family browsers Playwright can drive, by platform; REPRO_LAB_BROWSER names another.
BROWSERS = {
    "linux": ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"],
    "darwin": ["/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
               "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
               "/Applications/Chromium.app/Contents/MacOS/Chromium"],
    "win32": [r"%ProgramFiles(x86)%\Microsoft\Edge\Application\msedge.exe",
              r"%ProgramFiles%\Microsoft\Edge\Application\msedge.exe",
              r"%ProgramFiles%\Google\Chrome\Application\chrome.exe"],
}


def find_browser() -> Path | None:
    """The browser the notebooks run in: REPRO_LAB_BROWSER, else the first of BROWSERS installed."""
    named = os.environ.get("REPRO_LAB_BROWSER")
    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    for candidate in [named] if named else BROWSERS.get(platform, []):
        path = Path(os.path.expandvars(candidate))
        if path.is_file():
            return path
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run each notebook once per session: in the browser test when it runs (it checks the same
    verdicts as nbval, and more), under nbval otherwise (a notebook on its own, the Colab check,
    a machine without a browser)."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
    in_browser = any(item.path.name == "test_browser.py" and item.name.startswith("test_notebook_runs")
                     for item in items)
    if not (in_browser and find_browser() is not None):
        return
    by_nbval = [item for item in items if item.path.suffix == ".ipynb"]
    if by_nbval:
        config.hook.pytest_deselected(items=by_nbval)
        items[:] = [item for item in items if item.path.suffix != ".ipynb"]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m helpers ARGS`` in a child process, as a teacher would type it."""
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def run_article_example(number: int) -> dict:
    """The article's Example ``number``, run verbatim in a fresh process."""
    done = subprocess.run([sys.executable, "-m", "helpers.article", str(number)], capture_output=True,
                          text=True, timeout=300, cwd=REPO, check=True)
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def make_fingerprint(**changes: object) -> dict:
    """A complete run fingerprint, as a worker records it, for tests that build cards by hand.

    Such cards test the lab's own logic (loading, pooling, comparing); they are never presented
    as measurements of any machine.
    """
    fingerprint = {
        "python": "3.11.7", "os": "Linux 6.1", "platform": "Linux-6.1-x86_64", "colab": False,
        "cpu": {"model": "Test CPU", "arch": "x86_64", "logical_cores": 2,
                "vector_flags": ["sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"]},
        "numpy": "2.4.6", "tensorflow": "2.21.0", "keras": "3.15.1", "keras_backend": "tensorflow",
        "cuda_build": False, "cuda_version": None, "cudnn_version": None, "gpus": [], "gpu_models": [],
        "tf32": True, "env": {},
        "intra_op_threads": 0, "inter_op_threads": 0, "op_determinism": False,
    }
    fingerprint.update(changes)
    return fingerprint


def make_result(weights: str = "a", seed: int | None = 42, fingerprint: dict | None = None, ran_on: str = "CPU:0",
                **config: object) -> RunResult:
    """A run result built by hand (``weights`` is repeated to a 64-digit hash; ``config`` are
    RunConfig fields; ``ran_on`` is the device the run reports), for logic tests."""
    initial = "1" * 64
    return RunResult(
        config=RunConfig(seed=seed, **config), test_accuracy=0.11, test_loss=2.3, weights_sha256=(weights * 64)[:64],
        device=ran_on, loss_per_epoch=[2.3], accuracy_per_epoch=[0.1], fit_evaluate_seconds=1.0, run_seconds=1.0,
        tensorflow_import_seconds=0.0, worker_pid=1, run_in_worker=1, processes="warm",
        fingerprint=fingerprint or make_fingerprint(), initial_weights_sha256=initial, data_sha256="2" * 64,
    )


@pytest.fixture
def ctrl_c_as_in_a_terminal() -> Iterator[None]:
    """Python's own SIGINT handler in this test process while the test runs, as a terminal or a kernel has. A
    process started in the background by a shell without job control (a CI runner, a timing tool) inherits SIGINT
    ignored, and so do the test processes pytest-xdist starts from it: a Ctrl-C a test sends itself never arrived
    there (2026-12-07: the script card ran to its end, and the bootstrap's test passed without being interrupted)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def plain_card(tmp_path_factory: pytest.TempPathFactory):
    """This machine's standard card, made for real (about 10 s)."""
    from helpers.cards.making import make_card

    return make_card(tmp_path_factory.mktemp("cards") / "card-plain.json", progress=False)


@pytest.fixture(scope="session")
def older_cpu_card(tmp_path_factory: pytest.TempPathFactory):
    """The standard card made here with oneDNN capped at SSE4.1: an imitated older CPU, and labelled so."""
    from helpers.cards.making import make_card

    return make_card(tmp_path_factory.mktemp("cards") / "card-sse41.json", env={"ONEDNN_MAX_CPU_ISA": "SSE41"},
                     note="imitated: oneDNN capped at SSE4.1", progress=False)
