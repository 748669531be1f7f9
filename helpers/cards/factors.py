"""Why two runs differ: every recorded factor that differs between them, ranked, each with a sentence.

A factor is one thing about a run's machine or settings that can change its bits. One ranking
rule for all of them, in four groups:

1. **versions** -- TensorFlow, Keras, the Keras backend: no setting can undo another version;
2. **effective settings** -- the device, oneDNN's custom operations on or off, XLA, op determinism
   and TF32, as TensorFlow and Keras resolved them (not as the variables said);
3. **the instruction set** oneDNN dispatched to (the CPU's best, or a cap);
4. **the rest** -- the GPU model, CUDA, the CPU, threads, the OS, NumPy, Python, Colab.

Within that order, the factors that can explain the first stage at which the runs part come
first. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from helpers.core.results import RunResult
from helpers.machines.cpu import best_instruction_set
from helpers.machines.fingerprint import effective_settings, isa_words, onednn_words

# The stages (helpers.core.stages) at which a factor can first show: most change the arithmetic,
# so the training and what is computed from it; versions change the initial weights too.
TRAINING = frozenset({"training", "evaluation"})
INITIAL_AND_TRAINING = frozenset({"initial weights", "training", "evaluation"})
VERSIONS, SETTINGS, INSTRUCTIONS, REST = range(4)
GROUP_NAMES = ("version", "effective setting", "instruction set", "other")


@dataclass(frozen=True)
class _Rule:
    name: str
    value: Callable[[RunResult], Any]  # what is compared
    explains: frozenset[str]
    why: str | Callable[[RunResult, RunResult], str]
    group: int = REST
    shown: Callable[[RunResult], str] | None = None  # what is printed (default: the value)


def _show(value: Any) -> str:
    """A factor's value as the table prints it: yes/no for flags (a core count of 1 stays "1")."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _fp(run: RunResult, key: str, default: Any = None) -> Any:
    return run.fingerprint.get(key, default)


def _env(run: RunResult, key: str) -> str | None:
    return (run.fingerprint.get("env") or {}).get(key) or dict(run.config.env).get(key)


def _effective(run: RunResult) -> dict[str, Any]:
    return effective_settings(run.fingerprint, run.xla if run.xla is not None else run.config.jit_compile)


def _gpu_model(run: RunResult) -> str:
    models = _fp(run, "gpu_models") or _fp(run, "gpus") or []
    return ", ".join(models) or "none"


def _tf32(run: RunResult) -> str:
    # The setting only matters for matrix products on a GPU; say so rather than report a phantom difference.
    return "n/a (CPU)" if not run.device.startswith("GPU") else ("on" if _fp(run, "tf32") else "off")


def _cuda(run: RunResult) -> str:
    # CUDA and cuDNN only compute on a GPU: a CPU run of a CUDA build (Colab's TensorFlow, say) is a CPU run.
    if not run.device.startswith("GPU"):
        return "n/a (CPU)"
    return f"CUDA {_fp(run, 'cuda_version')}, cuDNN {_fp(run, 'cudnn_version')}"


def _xla(run: RunResult) -> str:
    value = _effective(run).get("jit_compile")
    return {True: "on", False: "off"}.get(value, "unknown")


def _threads(run: RunResult) -> str:
    intra = _env(run, "TF_NUM_INTRAOP_THREADS") or _fp(run, "intra_op_threads")
    inter = _env(run, "TF_NUM_INTEROP_THREADS") or _fp(run, "inter_op_threads")
    return f"{intra or 'default'} / {inter or 'default'}"


def _other_env(run: RunResult) -> str:
    covered = {"ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
               "CUDA_VISIBLE_DEVICES", "PYTHONHASHSEED"}
    env = {k: v for k, v in dict(run.config.env).items() if k not in covered}
    return ", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "none"


def _onednn_why(a: RunResult, b: RunResult) -> str:
    sa, sb = _effective(a), _effective(b)
    words = {True: "on", False: "off", None: "unknown"}
    return (f"oneDNN's custom operations were {words[sa.get('onednn_enabled')]} in A ({sa.get('onednn_why')}) and "
            f"{words[sb.get('onednn_enabled')]} in B ({sb.get('onednn_why')}); with them off TensorFlow runs its own "
            "Eigen kernels, which add in another order.")


RULES = (
    _Rule("TensorFlow", lambda r: _fp(r, "tensorflow"), INITIAL_AND_TRAINING,
          "Another TensorFlow release can change kernels and random ops, and from 2.16 on it comes with Keras 3, "
          "which draws and trains differently from Keras 2; no setting can undo another version.", VERSIONS),
    _Rule("Keras", lambda r: _fp(r, "keras"), INITIAL_AND_TRAINING,
          "Keras draws each layer's initial weights and shuffles the batches; another version (Keras 2 against 3) "
          "can do both differently, and no setting can undo it.", VERSIONS),
    _Rule("Keras backend", lambda r: _fp(r, "keras_backend", "tensorflow"), INITIAL_AND_TRAINING,
          "Keras 3 on JAX or PyTorch runs every operation through another library.", VERSIONS),
    _Rule("device", lambda r: r.device, TRAINING,
          "A GPU and a CPU run different kernels that add numbers in a different order, so the last bits "
          "differ and every later step of training builds on them.", SETTINGS),
    _Rule("oneDNN custom operations", lambda r: _effective(r).get("onednn_enabled"), TRAINING, _onednn_why,
          SETTINGS, shown=lambda r: onednn_words(_effective(r))),
    _Rule("XLA", _xla, TRAINING,
          "XLA compiles and fuses the model's operations, which reorders the arithmetic; Keras 3 turns it on by "
          "itself whenever TensorFlow sees a GPU.", SETTINGS),
    _Rule("op determinism", lambda r: bool(_fp(r, "op_determinism")) or r.config.op_determinism, TRAINING,
          "Op determinism makes TensorFlow choose deterministic kernels, which may sum in another order.", SETTINGS),
    _Rule("TensorFloat-32", _tf32, TRAINING,
          "On Ampere and newer GPUs, TensorFloat-32 rounds the inputs of matrix products to 10 bits of mantissa.",
          SETTINGS),
    _Rule("instruction set oneDNN used", lambda r: _effective(r).get("isa"), TRAINING,
          "oneDNN picks its kernels by instruction set (AVX-512, AVX2, ...; capped by ONEDNN_MAX_CPU_ISA, the lab's "
          "stand-in for an older CPU), and matrix products go through them even with its custom operations off; "
          "another kernel sums in another order.", INSTRUCTIONS, shown=lambda r: isa_words(_effective(r))),
    _Rule("GPU", _gpu_model, TRAINING, "Different GPU models choose different cuDNN and cuBLAS kernels."),
    _Rule("CUDA / cuDNN", _cuda, TRAINING, "Each CUDA and cuDNN release brings GPU kernels of its own."),
    _Rule("CPU architecture", lambda r: (_fp(r, "cpu") or {}).get("arch"), TRAINING,
          "An ARM CPU (Apple silicon, say) runs entirely different kernels from an x86 one."),
    _Rule("CPU's best vector instructions", lambda r: best_instruction_set(r.fingerprint), TRAINING,
          "Eigen's own kernels are compiled for the instruction set too, and pick wider ones where the CPU has "
          "them."),
    _Rule("CPU model", lambda r: (_fp(r, "cpu") or {}).get("model"), TRAINING,
          "Another CPU model, even with the same instruction set, can make oneDNN block a matrix product "
          "differently (it sizes blocks by the caches)."),
    _Rule("threads (intra-op / inter-op)", _threads, TRAINING,
          "Splitting a sum across another number of threads can change the order of its additions."),
    _Rule("logical cores", lambda r: (_fp(r, "cpu") or {}).get("logical_cores"), TRAINING,
          "TensorFlow sizes its thread pools by the cores, so sums can be split differently."),
    _Rule("operating system", lambda r: _fp(r, "os"), TRAINING,
          "TensorFlow for each OS is built with another compiler (article 004: Windows against Ubuntu), which "
          "can order floating-point operations differently."),
    _Rule("other environment variables", _other_env, TRAINING,
          "Variables read by TensorFlow or oneDNN at start-up can change how it computes."),
    _Rule("NumPy", lambda r: _fp(r, "numpy"), frozenset({"data"}),
          "The article's data come from np.random's legacy generator, which NumPy keeps stable across "
          "versions, so a NumPy change rarely explains different data."),
    _Rule("Python", lambda r: _fp(r, "python"), frozenset({"initial weights"}),
          "Keras draws initializer seeds from Python's random module, whose numbers for a seed are stable "
          "across versions, so this is rarely the cause."),
    _Rule("Colab", lambda r: _fp(r, "colab"), frozenset(),
          "Being in Colab changes nothing by itself; its hardware and versions, listed separately, do."),
)


@dataclass(frozen=True)
class Factor:
    """One thing that differs between the two runs, and why it can matter."""

    name: str
    a: str
    b: str
    why: str
    consistent: bool  # can it explain the first stage at which the runs differ?
    group: str = "other"  # version, effective setting, instruction set, other

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "a": self.a, "b": self.b, "why": self.why,
                "consistent_with_stage": self.consistent, "group": self.group}


def differing_factors(a: RunResult, b: RunResult, first_stage: str | None) -> list[Factor]:
    """Every recorded factor that differs between ``a`` and ``b``, ranked (see the module's docstring)."""
    found = []
    for order, rule in enumerate(RULES):
        va, vb = rule.value(a), rule.value(b)
        if va == vb:
            continue
        consistent = first_stage in rule.explains
        shown = rule.shown or (lambda run, rule=rule: _show(rule.value(run)))
        why = rule.why(a, b) if callable(rule.why) else rule.why
        factor = Factor(rule.name, shown(a), shown(b), why, consistent, GROUP_NAMES[rule.group])
        found.append(((not consistent, rule.group, order), factor))
    return [factor for _, factor in sorted(found, key=lambda item: item[0])]
