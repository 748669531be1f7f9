"""The lab's runs against the article's own code, run verbatim in fresh processes.

If these fail, the lab no longer reproduces the article: same model, same order of
operations, same seed must give the same test accuracy, loss and weights, bit for bit.
"""

from __future__ import annotations

import json

import pytest

from helpers.core.config import RunConfig
from helpers.running.processes import available_cores
from helpers.running.runner import run_configs
from tests.conftest import run_article_example, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example2() -> dict:
    return run_article_example(2)


@pytest.mark.parametrize("processes", ["warm", "fresh"])
def test_seeded_run_equals_the_articles_example_2(example2: dict, processes: str) -> None:
    done = run_cli("run", "--mode", "seeded", "--seed", "42", "--repeats", "1", "--processes", processes,
                   "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(done.stdout)["runs"]
    assert run["test_accuracy"] == example2["test_accuracy"]
    assert run["test_loss"] == example2["test_loss"]
    assert run["weights_sha256"] == example2["weights_sha256"]
    assert run["fingerprint"]["env"]["PYTHONHASHSEED"] == "42"


def test_thread_limited_runs_equal_the_articles_example_2(example2: dict) -> None:
    """Workers that share the cores get fewer threads (every audit runs so); the article's script
    ran with TensorFlow's default threads, and the weights must still be the same bits."""
    runs = run_configs([RunConfig.for_mode("seeded")] * 2, processes="warm", parallel=2, progress=False)
    for run in runs:
        env = run.fingerprint["env"]
        assert env["TF_NUM_INTRAOP_THREADS"] == env["TF_NUM_INTEROP_THREADS"] == str(max(1, available_cores() // 2))
        assert int(env["TF_NUM_INTRAOP_THREADS"]) < available_cores() or available_cores() == 1
        assert run.weights_sha256 == example2["weights_sha256"]
        assert (run.test_accuracy, run.test_loss) == (example2["test_accuracy"], example2["test_loss"])


def test_cpu_forced_run_equals_the_articles_example_3(example2: dict) -> None:
    example3 = run_article_example(3)
    done = run_cli("run", "--mode", "cpu", "--repeats", "1", "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(done.stdout)["runs"]
    assert run["weights_sha256"] == example3["weights_sha256"]
    assert run["device"] == "CPU:0"
    # The run's own record that the GPU was hidden before TensorFlow started, not just the outcome.
    assert run["fingerprint"]["env"]["CUDA_VISIBLE_DEVICES"] == "-1" and run["fingerprint"]["gpus"] == []
    # No GPU here: forcing the CPU changes nothing, in the article's code as in the lab's.
    assert example3["weights_sha256"] == example2["weights_sha256"]


def test_the_articles_example_1_is_unseeded() -> None:
    first, second = run_article_example(1), run_article_example(1)
    assert first["weights_sha256"] != second["weights_sha256"]
