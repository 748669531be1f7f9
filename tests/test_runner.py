"""The runner: warm workers give the same bits as fresh processes, for every mode and knob.

Warm workers are the speed-up of the lab; they are only allowed because these tests show
they change nothing. Each seeded configuration below runs once in a fresh process and once
in a warm worker that has already served another run of the same environment: a short run of
the other task whose only seed call is NumPy's, so Python's and TensorFlow's generators are
left reseeded from the OS (TensorFlow's stays seeded under op determinism, which requires it).
The weights must be the same bits. Every run's own fingerprint must show the environment it
was asked for; the parent's environment is deliberately polluted so that a variable the runner
forgot to set or remove would show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.core.config import ConfigError, RunConfig
from helpers.core.results import RunResult
from helpers.running import processes, runner
from helpers.running.processes import environment_key, thread_environment
from helpers.running.runner import RunError, default_parallel, run_configs
from helpers.running.worker import OP_DETERMINISM_ENV

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
UNSEEDED = [RunConfig(seed=None, epochs=1)] * 2
# Values a careless runner would pass on to its workers from the parent's environment.
POLLUTION = {"PYTHONHASHSEED": "999", "CUDA_VISIBLE_DEVICES": "0", OP_DETERMINISM_ENV: "1"}


def warm_up(config: RunConfig) -> RunConfig:
    """Another run of ``config``'s environment: same worker, different work, unseeded draws."""
    # Op determinism refuses random ops without TensorFlow's seed, so that call stays there.
    calls = ("numpy", "tensorflow") if config.op_determinism else ("numpy",)
    return config.replace(epochs=1, batch_size=100, seed_calls=calls,
                          task="learnable" if config.task == "article" else "article")


def warm_ups() -> list[RunConfig]:
    """One warm-up per environment the knobs use, in the order the knobs first use it."""
    first: dict = {}
    for config in KNOBS:
        first.setdefault(environment_key(config), warm_up(config))
    return list(first.values())


@pytest.fixture(scope="module")
def batches() -> tuple[list[RunResult], list[RunResult]]:
    """The fresh runs of every knob, then the warm batch. A fresh run's worker is kept after its one run (as in
    a notebook, where the next warm batch takes it up), so the warm batch takes up the fresh runs' workers of its
    environments instead of starting TensorFlow seven more times: each warm knob then runs in a worker that has
    served a fresh seeded run and a warm-up. Where the two batches' thread shares differ (more than nine cores)
    the warm batch starts its own workers; the proofs hold either way."""
    from helpers.running.kept import KEPT, end_kept_workers

    with pytest.MonkeyPatch.context() as patch:
        for name, value in POLLUTION.items():
            patch.setenv(name, value)
        patch.setattr(KEPT, "limit", len(KNOBS))
        end_kept_workers()  # none from earlier tests: the tests below count each worker's runs
        fresh = run_configs(KNOBS, processes="fresh", progress=False)
        # Warm-ups first: a worker takes its environment's runs in the order given.
        warm = run_configs([*warm_ups(), *KNOBS, *UNSEEDED], processes="warm", progress=False)
        end_kept_workers()
    return fresh, warm


@pytest.fixture(scope="module")
def fresh_runs(batches: tuple[list[RunResult], list[RunResult]]) -> list[RunResult]:
    return batches[0]


@pytest.fixture(scope="module")
def warm_batch(batches: tuple[list[RunResult], list[RunResult]]) -> list[RunResult]:
    return batches[1]


@pytest.fixture(scope="module")
def warm_runs(warm_batch: list[RunResult]) -> list[RunResult]:
    start = len(warm_ups())
    return warm_batch[start:start + len(KNOBS)]


def check_fingerprint(result: RunResult, threads: str | None) -> None:
    """The run's own record of the environment it ran in."""
    config, fingerprint = result.config, result.fingerprint
    env = fingerprint["env"]
    assert fingerprint["op_determinism"] is config.op_determinism
    assert env["CUDA_VISIBLE_DEVICES"] == ("-1" if config.device == "cpu" else None)
    assert fingerprint["gpus"] == []
    assert env["PYTHONHASHSEED"] == (str(config.seed) if config.seeded else None)
    for name, value in config.env:
        assert env[name] == value
    assert env["TF_NUM_INTRAOP_THREADS"] == env["TF_NUM_INTEROP_THREADS"] == threads
    if config.device == "cpu":
        assert result.device == "CPU:0"


@pytest.mark.slow
@pytest.mark.parametrize("position", range(len(KNOBS)), ids=[c.label for c in KNOBS])
def test_warm_worker_gives_the_same_bits_as_a_fresh_process(fresh_runs: list, warm_runs: list, position: int) -> None:
    fresh, warm = fresh_runs[position], warm_runs[position]
    assert fresh.config == warm.config == KNOBS[position]
    assert fresh.processes == "fresh" and fresh.run_in_worker == 1
    assert warm.processes == "warm"
    assert warm.run_in_worker >= 2, "the warm run was its worker's first, so it proves nothing about reuse"
    assert warm.weights_sha256 == fresh.weights_sha256
    assert warm.test_accuracy == fresh.test_accuracy and warm.test_loss == fresh.test_loss


@pytest.mark.slow
def test_every_warm_knob_follows_a_run_of_its_own_environment_in_its_worker(fresh_runs: list, warm_batch: list) -> None:
    for position, result in enumerate(warm_batch):
        # A worker taken up from the fresh batch served its fresh run first.
        earlier = [r for r in [*fresh_runs, *warm_batch[:position]] if r.worker_pid == result.worker_pid]
        assert [r.run_in_worker for r in earlier] == list(range(1, result.run_in_worker))
        assert {environment_key(r.config) for r in earlier} <= {environment_key(result.config)}
    start = len(warm_ups())
    for result in warm_batch[start:start + len(KNOBS)]:
        before = [r.config for r in warm_batch if r.worker_pid == result.worker_pid
                  and r.run_in_worker < result.run_in_worker]
        assert set(before) & set(warm_ups()), f"{result.config.label}: no warm-up ran before it in its worker"
    default_env = [r for r in warm_batch if environment_key(r.config) == environment_key(KNOBS[0])]
    first = min(r.run_in_worker for r in default_env)
    assert len({r.worker_pid for r in default_env}) == 1  # one worker: warm-up and 3 knobs
    assert sorted(r.run_in_worker for r in default_env) == [first, first + 1, first + 2, first + 3]


@pytest.mark.slow
def test_every_run_records_the_environment_it_asked_for(fresh_runs: list, warm_batch: list) -> None:
    # The share the runner gives its workers (its formula is pinned in test_thread_share).
    for results, kind in ((fresh_runs, "fresh"), (warm_batch, "warm")):
        configs = [r.config for r in results]
        slots = min(default_parallel(configs, kind), len(configs))
        share = thread_environment(slots).get("TF_NUM_INTRAOP_THREADS")
        assert slots >= 2 and share is not None  # so the threads limit really is under test here
        for result in results:
            check_fingerprint(result, share)


@pytest.mark.slow
def test_unseeded_runs_in_a_warm_worker_differ_and_have_no_hash_seed(warm_batch: list) -> None:
    first, second = warm_batch[-2:]
    assert first.worker_pid == second.worker_pid and (first.run_in_worker, second.run_in_worker) == (1, 2)
    assert first.fingerprint["env"]["PYTHONHASHSEED"] is None
    assert first.weights_sha256 != second.weights_sha256
    assert first.initial_weights_sha256 != second.initial_weights_sha256
    assert first.data_sha256 != second.data_sha256


def test_the_environment_decides_which_runs_share_a_worker() -> None:
    seeded, unseeded, cpu = (RunConfig.for_mode(m) for m in ("seeded", "unseeded", "cpu"))
    assert environment_key(seeded) == environment_key(seeded.replace(task="learnable", jit_compile=True))
    assert len({environment_key(c) for c in (seeded, unseeded, cpu)}) == 3
    assert environment_key(seeded) != environment_key(seeded.replace(op_determinism=True))
    assert environment_key(seeded) != environment_key(seeded.replace(seed=1))  # PYTHONHASHSEED differs


@pytest.mark.parametrize(("cores", "environments", "warm", "fresh"), [
    (1, 3, 2, 1),  # one core: still a worker per environment, up to twice the cores
    (2, 3, 3, 2),  # the audit on this machine: unseeded, seeded, cpu
    (2, 1, 2, 2),  # never fewer workers than cores
    (2, 8, 4, 2),  # capped at twice the cores
    (8, 3, 8, 8),
])
def test_default_parallelism(monkeypatch: pytest.MonkeyPatch, cores: int, environments: int, warm: int,
                             fresh: int) -> None:
    monkeypatch.setattr(runner, "available_cores", lambda: cores)
    configs = [RunConfig(seed=seed, epochs=1) for seed in range(environments)] * 5  # each seed: its own worker
    assert len({environment_key(c) for c in configs}) == environments
    assert default_parallel(configs, "warm") == warm
    assert default_parallel(configs, "fresh") == fresh


@pytest.mark.parametrize(("cores", "workers", "share"), [
    (2, 1, None),  # a lone worker keeps TensorFlow's default
    (2, 2, "1"),
    (2, 3, "1"),  # never below one thread
    (8, 3, "2"),
    (8, 4, "2"),
    (16, 3, "5"),
])
def test_thread_share(monkeypatch: pytest.MonkeyPatch, cores: int, workers: int, share: str | None) -> None:
    monkeypatch.setattr(processes, "available_cores", lambda: cores)
    expected = {} if share is None else {"TF_NUM_INTRAOP_THREADS": share, "TF_NUM_INTEROP_THREADS": share}
    assert thread_environment(workers) == expected


def test_bad_arguments_are_one_sentence() -> None:
    with pytest.raises(ConfigError, match="processes must be one of warm, fresh"):
        run_configs([RunConfig()], processes="cold")
    with pytest.raises(ConfigError, match="parallel must be a whole number"):
        run_configs([RunConfig()], parallel=0)
    with pytest.raises(ConfigError, match="each run must be a RunConfig"):
        run_configs(["seeded"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match=r"^keep_workers must be True or False, not 'no'\.$"):
        run_configs([RunConfig()], keep_workers="no")  # type: ignore[arg-type]
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


@pytest.mark.slow
def test_the_article_worker_starts_tensorflow_without_what_keras_imports_for_nothing() -> None:
    """Keras 3 imports scikit-learn, pandas, matplotlib and IPython at start-up, each only for what the article
    never uses: the article's worker hides them (1.3 s of each TensorFlow start here). The bits are still the
    article script's (its own process, all of them loaded: test_reference_experiment); a learner's script still
    imports them (the digits scripts load their data with scikit-learn: test_scripts)."""
    from helpers.running.experiment import NOT_NEEDED_BY_THE_ARTICLE

    probe = ("import json, sys; from helpers.running.worker import _start_tensorflow; "
             "from helpers.running.experiment import NOT_NEEDED_BY_THE_ARTICLE as hidden; "
             "seconds, refusal = _start_tensorflow(); "
             "print(json.dumps([refusal, {name: name in sys.modules and sys.modules[name] is None for name in hidden}, "
             "'keras.src.wrappers.sklearn_wrapper' in sys.modules, 'keras.src.visualization' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    refusal, hidden, *started = json.loads(done.stdout.strip().splitlines()[-1])
    assert refusal is None and started == [True, True]  # Keras started regardless, its guarded imports found nothing
    assert hidden == dict.fromkeys(NOT_NEEDED_BY_THE_ARTICLE, True)


class FakeWorker:
    """Stands in for a worker process in the kept-workers tests: no TensorFlow, just the state they read."""

    def __init__(self, key: str, signature: str, running: bool = True):
        self.key, self.signature, self.running, self.closed = key, signature, running, False

    def alive(self) -> bool:
        return self.running and not self.closed

    def close(self, wait: bool = True) -> None:
        self.closed = True


def test_a_worker_leaves_at_once_and_what_it_printed_last_still_reaches_stderr() -> None:
    """A worker skips Python's and TensorFlow's shutdown (os._exit; 0.65 s of CPU each here): its answers were
    flushed before, and what it printed to fd 1 last (TensorFlow, oneDNN) still passes through the pipe to stderr,
    while the protocol stream carries the answers alone. The functions registered with atexit still run (Keras 2's
    autograph removes its files there); a thread Python's shutdown would wait for is not waited for. No
    TensorFlow: the stream and the exit, nothing more."""
    probe = ("import atexit, sys, threading, time\n"
             "from helpers.running.worker import _protocol_stream, end_now\n"
             "answers, header = _protocol_stream()\n"
             "answers.write('{\"ok\": true}\\n'); answers.flush()\n"
             "print('the last words', flush=False)\n"
             "atexit.register(lambda: sys.stderr.write('exit functions ran\\n'))\n"
             "threading.Thread(target=lambda: (time.sleep(3), sys.stderr.write('python shut down\\n'))).start()\n"
             "end_now(header)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout == '{"ok": true}\n'
    assert "the last words" in done.stderr and "exit functions ran" in done.stderr
    assert "python shut down" not in done.stderr


def test_what_importing_tensorflow_sets_in_the_kernel_does_not_reach_a_workers_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.running.elsewhere import this_python
    from helpers.running.processes import SET_BY_IMPORTING_TENSORFLOW, process_environment, signature_of

    for name in [*SET_BY_IMPORTING_TENSORFLOW, "TPU_ML_PLATFORM_VERSION"]:
        monkeypatch.delenv(name, raising=False)
    before = signature_of({})
    for name, value in SET_BY_IMPORTING_TENSORFLOW.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TPU_ML_PLATFORM_VERSION", "2.21.0")
    assert signature_of({}) == before  # a worker kept from before the kernel imported TensorFlow still fits
    monkeypatch.setenv("HDF5_PLUGIN_PATH", "/opt/hdf5-plugins")  # a value of the learner's own is passed on
    assert process_environment({}, this_python())["HDF5_PLUGIN_PATH"] == "/opt/hdf5-plugins"
    assert signature_of({}) != before


def test_the_test_a_caller_is_in_does_not_reach_a_workers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest names the running test in PYTEST_CURRENT_TEST: a worker kept by one test fits the next test's batch
    of the same environment (the tests that count a worker's runs end the kept ones first)."""
    from helpers.running.elsewhere import this_python
    from helpers.running.processes import process_environment, signature_of

    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/test_a.py::test_one (call)")
    one = signature_of({})
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/test_b.py::test_two (setup)")
    assert signature_of({}) == one and "PYTEST_CURRENT_TEST" not in process_environment({}, this_python())
    monkeypatch.setenv("REPRO_LAB_SOMETHING_ELSE", "1")  # any other variable still tells two environments apart
    assert signature_of({}) != one


@pytest.mark.slow
def test_the_variables_left_out_are_what_importing_tensorflow_and_keras_really_sets() -> None:
    from helpers.running.processes import without_import_side_effects

    code = ("import json, os\nbefore = dict(os.environ)\nimport tensorflow, keras\n"
            "print(json.dumps({k: v for k, v in os.environ.items() if before.get(k) != v}))")
    clean = without_import_side_effects(dict(os.environ))
    done = subprocess.run([sys.executable, "-c", code], env={**clean, "TF_CPP_MIN_LOG_LEVEL": "2"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout.strip().splitlines()[-1])
    assert "TF2_BEHAVIOR" in added  # the import ran, and set what it sets
    left_in = without_import_side_effects(added)
    assert left_in == {}, f"set by the import and passed on to workers: {sorted(left_in)}"


def test_kept_workers_serve_only_their_own_environment_and_only_while_running() -> None:
    from helpers.running.kept import KeptWorkers

    kept = KeptWorkers(limit=2)
    seeded, cpu, dead = FakeWorker("seeded", "env A"), FakeWorker("cpu", "env A"), FakeWorker("seeded", "env A")
    kept.keep(cpu)
    kept.keep(seeded)
    assert kept.take("seeded", "env B") is None  # another variable somewhere in the environment: a new worker
    assert kept.take("seeded", "env A") is seeded and kept.take("seeded", "env A") is None  # taken once
    dead.running = False
    kept.keep(dead)
    assert dead.closed and len(kept) == 1  # a stopped worker is let go, not kept
    kept.keep(seeded)
    cpu.running = False  # died while idle (out of memory, killed)
    assert kept.take("cpu", "env A") is None and len(kept) == 1


def test_only_the_newest_kept_workers_stay_and_end_all_ends_the_rest() -> None:
    from helpers.running.kept import KeptWorkers

    kept = KeptWorkers(limit=2)
    workers = [FakeWorker("seeded", f"env {n}") for n in range(3)]
    for worker in workers:
        kept.keep(worker)
    assert [w.closed for w in workers] == [True, False, False]
    assert kept.end_all() == 2 and all(w.closed for w in workers) and len(kept) == 0
    none_kept = KeptWorkers(limit=0)
    none_kept.keep(extra := FakeWorker("seeded", "env"))
    assert extra.closed and len(none_kept) == 0


@pytest.mark.slow
def test_a_later_batch_takes_up_the_kept_worker_and_still_gives_a_fresh_processs_bits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.running.kept import KEPT, end_kept_workers

    end_kept_workers()
    seeded, other = RunConfig(seed=42, epochs=2), RunConfig(seed=42, epochs=2, task="learnable")
    (first,) = run_configs([seeded], parallel=1, progress=False)
    (between,) = run_configs([other], parallel=1, progress=False)
    (again,) = run_configs([seeded], parallel=1, progress=False)
    (fresh,) = run_configs([seeded], processes="fresh", progress=False)
    assert first.worker_pid == between.worker_pid == again.worker_pid
    assert (first.run_in_worker, between.run_in_worker, again.run_in_worker) == (1, 2, 3)
    assert again.tensorflow_import_seconds == 0.0 < first.tensorflow_import_seconds
    assert first.weights_sha256 == again.weights_sha256 == fresh.weights_sha256 != between.weights_sha256
    assert fresh.worker_pid != first.worker_pid and fresh.run_in_worker == 1  # a fresh run takes up none
    assert len(KEPT) == min(2, KEPT.limit)  # but its worker is kept after its one run
    end_kept_workers()
    (alone,) = run_configs([seeded], processes="fresh", progress=False)
    (after_fresh,) = run_configs([seeded], parallel=1, progress=False)
    assert (after_fresh.worker_pid, after_fresh.run_in_worker) == (alone.worker_pid, 2)
    assert after_fresh.weights_sha256 == alone.weights_sha256 == first.weights_sha256
    (unkept,) = run_configs([seeded], parallel=1, progress=False, keep_workers=False)
    assert unkept.worker_pid != alone.worker_pid and len(KEPT) == 1
    monkeypatch.setenv("REPRO_LAB_TEST_VARIABLE", "1")  # the environment changed: the kept worker does not fit
    (changed,) = run_configs([seeded], parallel=1, progress=False)
    assert changed.worker_pid != first.worker_pid and changed.run_in_worker == 1
    assert end_kept_workers() == min(2, KEPT.limit)
