"""Shared fixtures. Tests that start worker processes are marked ``slow``: each TensorFlow start
costs about 2 s, so they share runs through module-scoped fixtures where they can."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
