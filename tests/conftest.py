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
        "tf32": True, "env": {}, "onednn_opts": "default (on for x86 builds)",
        "intra_op_threads": 0, "inter_op_threads": 0, "op_determinism": False,
    }
    fingerprint.update(changes)
    return fingerprint
