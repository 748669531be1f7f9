"""What one run of the experiment is: mode, seed, task, device and training knobs, validated.

Every check raises :class:`ConfigError` with one sentence that says what is wrong and what to
do, so the CLI, the control panel and the notebooks can show it as it is.
"""

from __future__ import annotations

import dataclasses
import re
import reprlib
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["unseeded", "seeded", "cpu"]
Task = Literal["article", "learnable"]
Device = Literal["auto", "cpu", "gpu"]

MODES: tuple[str, ...] = ("unseeded", "seeded", "cpu")
TASKS: tuple[str, ...] = ("article", "learnable")
DEVICES: tuple[str, ...] = ("auto", "cpu", "gpu")
# The article's Example 2 makes exactly these three calls, in this order.
SEED_CALLS: tuple[str, ...] = ("python", "numpy", "tensorflow")

DEFAULT_SEED = 42
MAX_EPOCHS = 500
MAX_BATCH_SIZE = 1000  # the training set has 1000 rows
MAX_REPEATS = 50
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding accepts 0 .. 2**32 - 1
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


class _Default:
    """The "not given" marker, so an explicit seed can be told from the default one."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()


class ConfigError(ValueError):
    """A setting is out of range or of the wrong kind; the message is one plain sentence."""


_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother = 3, 40, 40, 40
_SHORT.maxtuple = _SHORT.maxlist = _SHORT.maxdict = _SHORT.maxset = 4


def shown(value: Any) -> str:
    """A bad value as a message quotes it: its repr, escaped (no line breaks) and cut short, so that a
    huge or strange value (from an untrusted card, say) still leaves one readable sentence."""
    try:
        return _SHORT.repr(value)
    except ValueError:  # an int too long for Python to write out at all
        return "a number too long to show"


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {shown(value)}.")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, not {shown(value)}.")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Validate a setting that takes one of a few named values."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {shown(value)}.")
    return value


def check_repeats(repeats: Any) -> int:
    """Validate how many times a configuration is run."""
    return _check_int("repeats", repeats, 1, MAX_REPEATS)


@dataclass(frozen=True)
class RunConfig:
    """One run of the reference experiment.

    ``seed=None`` means unseeded. ``seed_calls`` names which of the article's three seed calls
    are made (dropping one shows what it controls). ``device="cpu"`` hides the GPU from
    TensorFlow before it starts, exactly like the article's ``CUDA_VISIBLE_DEVICES=-1``.
    ``op_determinism`` calls ``tf.config.experimental.enable_op_determinism()`` at start-up.
    ``jit_compile`` None compiles as the article does, leaving XLA to Keras (Keras 3 turns it on
    whenever TensorFlow sees a GPU); True or False asks for it or refuses it.
    """

    seed: int | None = DEFAULT_SEED
    task: str = "article"
    device: str = "auto"
    epochs: int = 10
    batch_size: int = 32
    seed_calls: tuple[str, ...] = SEED_CALLS
    op_determinism: bool = False
    jit_compile: bool | None = None
    # Extra process environment, e.g. {"ONEDNN_MAX_CPU_ISA": "AVX2"} to imitate an older CPU.
    env: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.seed is not None:
            _check_int("seed", self.seed, 0, MAX_SEED)
        check_choice("task", self.task, TASKS)
        check_choice("device", self.device, DEVICES)
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_int("batch size", self.batch_size, 1, MAX_BATCH_SIZE)
        if isinstance(self.seed_calls, str) or not isinstance(self.seed_calls, (tuple, list)):
            raise ConfigError(f"seed calls must be a list such as ['python', 'numpy'], not {shown(self.seed_calls)}.")
        calls = tuple(self.seed_calls)
        for call in calls:
            check_choice("each seed call", call, SEED_CALLS)
        if len(set(calls)) != len(calls):
            raise ConfigError(f"seed calls must not repeat, got {shown(calls)}.")
        # Keep the article's order whatever order the caller listed them in.
        object.__setattr__(self, "seed_calls", tuple(c for c in SEED_CALLS if c in calls))
        if not isinstance(self.op_determinism, bool):
            raise ConfigError(f"op_determinism must be True or False, not {shown(self.op_determinism)}.")
        if self.jit_compile is not None and not isinstance(self.jit_compile, bool):
            raise ConfigError(f"jit_compile must be True (XLA on), False (off) or None (as Keras decides), "
                              f"not {shown(self.jit_compile)}.")
        if self.op_determinism and (self.seed is None or "tensorflow" not in self.seed_calls):
            # TensorFlow itself refuses: "Random ops require a seed to be set when determinism is enabled".
            raise ConfigError("op determinism needs TensorFlow's seed (tf.random.set_seed): TensorFlow refuses "
                              "random ops without one then; turn the seed on, or op determinism off.")
        try:
            env = dict(self.env)
        except (TypeError, ValueError):
            raise ConfigError(f"env must be NAME=VALUE pairs such as (('ONEDNN_MAX_CPU_ISA', 'AVX2'),), "
                              f"not {shown(self.env)}.") from None
        for key, value in env.items():
            if not (isinstance(key, str) and isinstance(value, str) and ENV_NAME.fullmatch(key) and "\0" not in value):
                raise ConfigError(f"environment entries must be a variable name and a text value, "
                                  f"not {shown(key)}={shown(value)}.")
        if "CUDA_VISIBLE_DEVICES" in env or "PYTHONHASHSEED" in env:
            raise ConfigError("set the device and the seed with their own settings, not through env.")
        object.__setattr__(self, "env", tuple(sorted(env.items())))

    @classmethod
    def for_mode(cls, mode: str, seed: Any = DEFAULT, **kwargs: Any) -> RunConfig:
        """The article's three experiments: Example 1 (unseeded), 2 (seeded), 3 (seeded, CPU forced).

        Seeded modes take ``seed`` (42 unless given); an unseeded run takes none, and giving one is
        refused rather than silently ignored.
        """
        check_choice("mode", mode, MODES)
        if mode == "unseeded":
            if seed is not DEFAULT and seed is not None:
                raise ConfigError(f"unseeded runs take no seed (got {shown(seed)}); drop the seed, or use mode seeded.")
            return cls(seed=None, **kwargs)
        if seed is DEFAULT:
            seed = DEFAULT_SEED
        if seed is None:
            raise ConfigError(f"mode {mode} needs a seed; pass a whole number such as {DEFAULT_SEED}.")
        if mode == "cpu":
            kwargs["device"] = "cpu"
        return cls(seed=seed, **kwargs)

    @property
    def seeded(self) -> bool:
        return self.seed is not None and bool(self.seed_calls)

    @property
    def mode(self) -> str:
        """The article's name for this kind of run (a label; the fields are the truth)."""
        if not self.seeded:
            return "unseeded"
        return "cpu" if self.device == "cpu" else "seeded"

    @property
    def label(self) -> str:
        """A short human label that tells runs of different settings apart in tables and plots."""
        parts = [self.mode]
        if self.seeded:
            parts.append(f"seed {self.seed}")
            if self.seed_calls != SEED_CALLS:
                parts.append("calls: " + "+".join(self.seed_calls))
        if self.device == "gpu":
            parts.append("gpu")
        if self.op_determinism:
            parts.append("op determinism")
        if self.jit_compile is not None:
            parts.append("XLA" if self.jit_compile else "XLA off")
        parts.extend(f"{k}={v}" for k, v in self.env)
        return ", ".join(parts)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["seed_calls"] = list(self.seed_calls)
        data["env"] = dict(self.env)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        """The inverse of :meth:`to_dict`; keys it does not know (from a newer lab) are ignored."""
        if not isinstance(data, dict):
            raise ConfigError(f"a run's settings must be a mapping of names to values, not {type(data).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        env = data.get("env", {})
        if not isinstance(env, dict):
            raise ConfigError(f"env must map variable names to values, not {shown(env)}.")
        values["env"] = tuple(env.items())
        return cls(**values)
