"""The runner: warm workers give the same bits as fresh processes, for every mode and knob.

Warm workers are the speed-up of the lab; they are only allowed because these tests show
they change nothing. Each seeded configuration below runs once in a fresh process and once
in a warm worker that has already run *other* configurations (an unseeded one first), and
the weights must be the same bits.
"""

from __future__ import annotations

import pytest

from helpers.config import ConfigError, RunConfig
from helpers.runner import RunError, default_parallel, environment_key, run_configs, thread_environment

# Every knob the lab offers, each in a seeded configuration.
KNOBS = [
    RunConfig.for_mode("seeded", epochs=3),
    RunConfig.for_mode("seeded", epochs=3, task="learnable"),
    RunConfig.for_mode("seeded", epochs=2, batch_size=64, seed=7),
    RunConfig.for_mode("seeded", epochs=3, seed=0),
    RunConfig.for_mode("seeded", epochs=3, jit_compile=True),
    RunConfig.for_mode("cpu", epochs=3),
    RunConfig.for_mode("seeded", epochs=3, op_determinism=True),
    RunConfig.for_mode("seeded", epochs=3, env=(("ONEDNN_MAX_CPU_ISA", "AVX2"),)),
    RunConfig.for_mode("seeded", epochs=3, env=(("TF_ENABLE_ONEDNN_OPTS", "0"),)),
]


@pytest.fixture(scope="module")
def fresh_runs() -> list:
    return run_configs(KNOBS, processes="fresh", progress=False)


@pytest.fixture(scope="module")
def warm_runs() -> list:
    # The unseeded runs go first so every seeded run follows another run in the same worker.
    warmup = [RunConfig(seed=None, epochs=2)] * 2
    return run_configs([*warmup, *KNOBS[::-1]], processes="warm", progress=False)[2:][::-1]


@pytest.mark.slow
@pytest.mark.parametrize("position", range(len(KNOBS)), ids=[c.label for c in KNOBS])
def test_warm_worker_gives_the_same_bits_as_a_fresh_process(fresh_runs: list, warm_runs: list, position: int) -> None:
    fresh, warm = fresh_runs[position], warm_runs[position]
    assert fresh.processes == "fresh" and fresh.run_in_worker == 1
    assert warm.processes == "warm"
    assert warm.weights_sha256 == fresh.weights_sha256
    assert warm.test_accuracy == fresh.test_accuracy and warm.test_loss == fresh.test_loss


@pytest.mark.slow
def test_warm_workers_really_are_reused(warm_runs: list) -> None:
    default_env = [r for r in warm_runs if environment_key(r.config) == environment_key(KNOBS[0])]
    assert max(r.run_in_worker for r in default_env) >= 3


def test_the_environment_decides_which_runs_share_a_worker() -> None:
    seeded, unseeded, cpu = (RunConfig.for_mode(m) for m in ("seeded", "unseeded", "cpu"))
    assert environment_key(seeded) == environment_key(seeded.replace(task="learnable", jit_compile=True))
    assert len({environment_key(c) for c in (seeded, unseeded, cpu)}) == 3
    assert environment_key(seeded) != environment_key(seeded.replace(op_determinism=True))
    assert environment_key(seeded) != environment_key(seeded.replace(seed=1))  # PYTHONHASHSEED differs


def test_parallelism_and_threads() -> None:
    audit = [RunConfig.for_mode(m) for m in ("unseeded", "seeded", "cpu")]
    assert default_parallel(audit * 5, "warm") >= 3 or default_parallel(audit, "warm") >= 2
    assert thread_environment(1) == {}
    assert set(thread_environment(4)) == {"TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"}


def test_bad_arguments_are_one_sentence() -> None:
    with pytest.raises(ConfigError, match="processes must be one of warm, fresh"):
        run_configs([RunConfig()], processes="cold")
    with pytest.raises(ConfigError, match="parallel must be a whole number"):
        run_configs([RunConfig()], parallel=0)
    with pytest.raises(ConfigError, match="each run must be a RunConfig"):
        run_configs(["seeded"])  # type: ignore[list-item]
    assert run_configs([]) == []


@pytest.mark.slow
def test_a_failed_run_keeps_the_others() -> None:
    """Asking for a GPU that is not there fails that run with one sentence; the others are kept."""
    configs = [RunConfig(epochs=1), RunConfig(epochs=1, device="gpu"), RunConfig(epochs=1)]
    with pytest.raises(RunError) as caught:
        run_configs(configs, progress=False)
    message = str(caught.value)
    assert "run 1" in message and "TensorFlow sees no GPU" in message and "\n" not in message
    assert [r.index for r in caught.value.completed] == [0, 2]
