"""The verdict functions must be able to say False: each is fed runs that must not bear the claim out.

The notebooks only ever feed them runs that pass, so a verdict function that always said True
would go unnoticed there; these tests are where it would show.
"""

from __future__ import annotations

import pytest

from helpers.core import results as R
from helpers.core.config import RunConfig


def run(weights: str, accuracy: float = 0.105, **config: object) -> R.RunResult:
    """A run with only what the verdicts read filled in meaningfully."""
    return R.RunResult(
        config=RunConfig(**config), test_accuracy=accuracy, test_loss=2.3, weights_sha256=weights, device="CPU:0",
        loss_per_epoch=[], accuracy_per_epoch=[], fit_evaluate_seconds=0.0, run_seconds=0.0,
        tensorflow_import_seconds=0.0, worker_pid=1, run_in_worker=1, processes="fresh",
    )


A, A2, B, C = run("a" * 64), run("a" * 64), run("b" * 64), run("c" * 64)


def test_a_verdict_prints_its_claim_and_truth() -> None:
    assert str(R.Verdict("seeded runs identical", False)) == "seeded runs identical: False"
    assert not R.Verdict("x", False) and R.Verdict("x", True)


@pytest.mark.parametrize(("runs", "holds"), [
    pytest.param([A, A2], True, id="two identical"),
    pytest.param([A, A2, A], True, id="three identical"),
    pytest.param([], False, id="nothing to compare"),
    pytest.param([A], False, id="one run is identical to nothing"),
    pytest.param([A, B], False, id="two different"),
    pytest.param([A, A2, B], False, id="one run out of line"),
])
def test_all_identical(runs: list, holds: bool) -> None:
    verdict = R.all_identical("runs identical", runs)
    assert verdict.holds is holds
    assert str(verdict) == f"runs identical: {holds}"


@pytest.mark.parametrize(("runs", "holds"), [
    pytest.param([A, B], True, id="two different"),
    pytest.param([A, B, C], True, id="three different"),
    pytest.param([], False, id="nothing to compare"),
    pytest.param([A], False, id="one run differs from nothing"),
    pytest.param([A, A2], False, id="a duplicate pair"),
    pytest.param([A, B, A2], False, id="a duplicate among others"),
])
def test_all_differ(runs: list, holds: bool) -> None:
    verdict = R.all_differ("runs differ", runs)
    assert verdict.holds is holds


@pytest.mark.parametrize(("left", "right", "holds"), [
    pytest.param([A], [A2], True, id="one each, identical"),
    pytest.param([A, A2], [A], True, id="all identical"),
    pytest.param([], [A], False, id="an empty left group"),
    pytest.param([A], [], False, id="an empty right group"),
    pytest.param([], [], False, id="both empty"),
    pytest.param([A], [B], False, id="different"),
    pytest.param([A, B], [A], False, id="the left group disagrees with itself"),
    pytest.param([A], [A2, B], False, id="the right group disagrees with itself"),
])
def test_same_weights(left: list, right: list, holds: bool) -> None:
    assert R.same_weights("same weights", left, right).holds is holds


@pytest.mark.parametrize(("left", "right", "holds"), [
    pytest.param([0.105], [0.105], True, id="equal"),
    pytest.param([0.1234561], [0.1234559], True, id="differ in the 7th decimal, round alike"),
    pytest.param([0.105, 0.105], [0.105], True, id="all equal"),
    pytest.param([0.123456], [0.123457], False, id="differ in the 6th decimal"),
    pytest.param([0.105, 0.105001], [0.105], False, id="one run off in the 6th decimal"),
    pytest.param([0.105], [0.11], False, id="differ in the 2nd decimal"),
    pytest.param([], [0.105], False, id="an empty left group"),
    pytest.param([0.105], [], False, id="an empty right group"),
])
def test_accuracy_agrees(left: list, right: list, holds: bool) -> None:
    verdict = R.accuracy_agrees("accuracy agrees", [run("a", x) for x in left], [run("a", x) for x in right])
    assert verdict.holds is holds


def test_accuracy_agrees_to_fewer_places_when_asked() -> None:
    assert R.accuracy_agrees("x", [run("a", 0.1234)], [run("a", 0.1235)], places=3).holds
    assert not R.accuracy_agrees("x", [run("a", 0.1234)], [run("a", 0.1235)], places=4).holds


def test_select_picks_by_config_fields() -> None:
    seeded, unseeded = run("a", seed=42), run("b", seed=None)
    assert R.select([seeded, unseeded], seed=None) == [unseeded]
    assert R.select([seeded, unseeded], seed=42, device="auto") == [seeded]
    assert R.select([seeded, unseeded], device="cpu") == []


def test_the_summary_keeps_tasks_apart() -> None:
    """Notebook 01 summarises article-task and learnable-task runs together: they are different kinds."""
    from helpers.core.results import summary_by_label
    from tests.conftest import make_result

    runs = [make_result("a", seed=None), make_result("b", seed=None), make_result("c", seed=None, task="learnable")]
    summary = summary_by_label(runs)
    assert summary.index.tolist() == ["unseeded, article task", "unseeded, learnable task"]
    assert summary["runs"].tolist() == [2, 1]
    assert summary_by_label(runs[:2]).index.tolist() == ["unseeded"]
