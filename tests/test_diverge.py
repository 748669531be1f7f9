"""Divergence over training: recording every step changes nothing, and the comparison is right.

The slow tests train real runs in worker processes (a few epochs each); the others check the
step-by-step arithmetic and the figure on numbers made here, which are never presented as
measurements of any machine.
"""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

from helpers.core.config import ConfigError, RunConfig
from helpers.running.runner import run_configs
from helpers.training import diverge as D
from tests.conftest import run_cli

matplotlib.use("Agg")

EPOCHS = 3
STEPS = EPOCHS * 32


@pytest.fixture(scope="module")
def older_cpu() -> D.Divergence:
    a = RunConfig(epochs=EPOCHS)
    return D.diverge(a, D.run_b(a, env={"ONEDNN_MAX_CPU_ISA": "SSE41"}), progress=False)


@pytest.mark.slow
def test_recording_every_step_does_not_change_the_bits(tmp_path) -> None:
    config = RunConfig(epochs=2, task="learnable")
    prefix = str(tmp_path / "run")
    plain, recorded = run_configs([config, config], parallel=1, progress=False, record_steps=[None, prefix])
    assert recorded.weights_sha256 == plain.weights_sha256
    assert recorded.test_accuracy == plain.test_accuracy and recorded.test_loss == plain.test_loss
    record = recorded.step_record
    assert plain.step_record is None and record["steps"] == 64
    weights = np.load(record["weights"])
    assert weights.shape == (65, 2698) and weights.dtype == np.float32
    assert D.weights_sha256([weights[-1]]) == recorded.weights_sha256  # the last row is the trained model
    assert D.weights_sha256([weights[0]]) == recorded.initial_weights_sha256
    assert np.load(record["predictions"]).shape == (2, 200, 10)
    assert np.load(record["labels"]).shape == (200,)


@pytest.mark.slow
def test_an_older_cpu_differs_from_the_first_step_and_the_numbers_agree(older_cpu: D.Divergence) -> None:
    d = older_cpu
    assert d.steps == STEPS and d.epochs == EPOCHS and d.steps_per_epoch == 32
    assert d.initial_difference == 0.0
    first = d.first_differing_step
    assert first is not None and 1 <= first <= STEPS
    assert np.all(d.max_abs_difference[: first - 1] == 0) and d.max_abs_difference[first - 1] > 0
    assert d.a.weights_sha256 != d.b.weights_sha256
    # The recorded per-epoch hashes and accuracies are those of the runs themselves.
    assert d.epoch_sha256[0][-1] == d.a.weights_sha256 and d.epoch_sha256[1][-1] == d.b.weights_sha256
    assert d.epoch_sha256[0][0] == d.epoch_sha256[1][0] == d.a.initial_weights_sha256
    accuracy_a, accuracy_b = d.test_accuracy
    assert len(accuracy_a) == len(accuracy_b) == EPOCHS
    assert np.float32(accuracy_a[-1]) == np.float32(d.a.test_accuracy)
    assert np.float32(accuracy_b[-1]) == np.float32(d.b.test_accuracy)


@pytest.mark.slow
def test_a_setting_that_changes_nothing_never_differs() -> None:
    """Recording and comparing add no difference of their own: the same arithmetic gives null."""
    a = RunConfig(epochs=1)
    same = D.diverge(a, D.run_b(a, device="cpu"), progress=False)  # no GPU here: the same hardware
    assert same.first_differing_step is None and same.final_difference == 0.0
    assert not any(same.disagreements) and same.epoch_sha256[0] == same.epoch_sha256[1]
    assert [v.holds for v in same.verdicts()] == [False, False]


@pytest.mark.slow
def test_cli_json_has_what_the_issue_asks_for(tmp_path) -> None:
    figure = tmp_path / "diverge.png"
    done = run_cli("diverge", "--epochs", "2", "--b-env", "TF_ENABLE_ONEDNN_OPTS=0", "--json", "--quiet",
                   "--plot", str(figure))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["steps"] == 64 and len(document["max_abs_difference"]) == 64
    first = document["first_differing_step"]
    assert first is None or 1 <= first <= 64
    assert len(document["test_accuracy"]["a"]) == len(document["test_accuracy"]["b"]) == 2
    assert document["setting"] == "TF_ENABLE_ONEDNN_OPTS=0"
    assert figure.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["diverge", "--epochs", "2", "--b-env", "ONEDNN_MAX_CPU_ISA"], "--b-env takes KEY=VALUE"),
        (["diverge", "--epochs", "2"], "run B is the same as run A"),
        (["diverge", "--epochs", "0", "--b-seed", "1"], "epochs must be from 1"),
        (["diverge", "--b-seed", "1", "--b-unseeded"], "not allowed with argument"),
        (["diverge", "--b-seed", "1", "--plot", "/no/such/folder/x.png"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert fragment in done.stderr and done.stderr.count("\n") == 1 and not done.stdout


def test_runs_a_and_b_must_train_the_same_steps() -> None:
    a = RunConfig(epochs=2)
    with pytest.raises(ConfigError, match="same task, epochs and batch size"):
        D.diverge(a, a.replace(epochs=3, seed=1))
    with pytest.raises(ConfigError, match="run B is the same as run A"):
        D.diverge(a, a)
    with pytest.raises(ConfigError, match="record_steps must be one path prefix"):
        run_configs([a], record_steps=["x", "y"])


def test_describe_change_names_what_b_changes() -> None:
    a = RunConfig(epochs=2)
    assert D.describe_change(a, D.run_b(a, env={"ONEDNN_MAX_CPU_ISA": "AVX2"})) == "ONEDNN_MAX_CPU_ISA=AVX2"
    assert D.describe_change(a, D.run_b(a, seed=None)) == "unseeded"
    assert D.describe_change(a, D.run_b(a, op_determinism=True, xla=True)) == "op determinism on, XLA on"


def _synthetic(distances: list[float], disagreements: list[int], initial: float = 0.0) -> D.Divergence:
    """A comparison made from numbers chosen here, to test the arithmetic without training."""
    a = RunConfig(epochs=len(disagreements), batch_size=500)
    b = D.run_b(a, env={"ONEDNN_MAX_CPU_ISA": "SSE41"})

    class Run:
        def __init__(self, config: RunConfig) -> None:
            self.config, self.test_accuracy, self.weights_sha256 = config, 0.5, "0" * 64

    correct = np.array([1] * len(disagreements))
    return D.Divergence(Run(a), Run(b), initial, np.array(distances), np.zeros(len(disagreements)),
                        np.array(disagreements), (correct, correct), 2, 2, [[], []])


def test_first_differing_step_is_one_based_zero_before_training_and_none_if_never() -> None:
    assert _synthetic([0, 0, 1e-7, 1e-3], [0, 1]).first_differing_step == 3
    assert _synthetic([1e-7, 0, 0, 0], [0, 0]).first_differing_step == 1
    assert _synthetic([0.1, 0.1, 0.1, 0.1], [1, 1], initial=0.1).first_differing_step == 0
    never = _synthetic([0, 0, 0, 0], [0, 0])
    assert never.first_differing_step is None and never.growth is None
    grown = _synthetic([0, 0, 1e-7, 1e-3], [0, 1])
    assert grown.growth == pytest.approx(1e4) and grown.first_visible_epoch == 2
    holds = [v.holds for v in grown.verdicts()]
    assert holds == [True, True, True]
    assert [v.holds for v in _synthetic([0, 1e-7, 1e-7, 2e-7], [0, 0]).verdicts()] == [True, False, False]


def test_the_step_comparison_reads_block_by_block(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(D, "ROWS_PER_BLOCK", 2)  # blocks smaller than the run: boundaries get crossed
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 5)).astype(np.float32)
    b = a.copy()
    b[3, 4] = np.nextafter(b[3, 4], np.float32(np.inf))  # one last bit, after step 3
    b[6] += 0.25
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    initial, distances, hashes = D._compare(str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), per_epoch=3)
    expected = np.max(np.abs(a.astype(np.float64) - b), axis=1)
    assert initial == 0.0 and np.array_equal(distances, expected[1:])
    assert distances[2] == abs(float(b[3, 4]) - float(a[3, 4])) > 0
    assert hashes[0] == [D.weights_sha256([a[i]]) for i in (0, 3, 6)] and hashes[0][0] == hashes[1][0]
    np.save(tmp_path / "c.npy", a[:, :4])
    with pytest.raises(ConfigError, match="same model"):
        D._compare(str(tmp_path / "a.npy"), str(tmp_path / "c.npy"), per_epoch=3)


def test_the_figure_shows_distance_on_a_log_scale_beside_accuracy() -> None:
    from helpers.views.training_plots import plot_divergence

    figure = plot_divergence(_synthetic([0, 0, 1e-7, 1e-3], [0, 1]))
    distance, accuracy, changed = figure.axes
    assert distance.get_yscale() == "log" and accuracy.get_ylabel() == "test accuracy"
    assert "classified" in changed.get_ylabel()
    texts = " ".join(t.get_text() for t in distance.texts)
    assert "first difference: step 3" in texts and "epoch 2" in texts
