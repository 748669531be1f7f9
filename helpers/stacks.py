"""Other TensorFlow stacks: the article's Example 2, as written, under other TensorFlow/Keras versions.

The most common reason two machines disagree even with seeds is that they run other versions.
This module builds one environment per stack (a TensorFlow version, optionally a Keras version,
and a Python), once, in the user's cache folder, and runs the article's script there in a fresh
process through the harness of :mod:`helpers.article`, which reports the data, initial-weights
and trained-weights hashes the lab's own runs carry. This kernel's own stack always runs first,
the same way, so the rows compare like with like.

Environments are built with uv when it is installed (seconds from its cache; about 10 s for
TensorFlow 2.15.1 here), else with venv and pip (more than a minute). A stack whose TensorFlow
has no wheel for the chosen Python gets one sentence saying which Python it needs; the others
still run. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from helpers.config import ConfigError, shown
from helpers.results import Verdict

APP_NAME = "keras-repro-lab"
CACHE_ENV = "REPRO_LAB_CACHE"  # overrides the cache folder (tests, shared machines)
VERSION = re.compile(r"^\d+\.\d+(\.\d+)?([a-z0-9.+-]*)$")
# The Pythons TensorFlow publishes wheels for (TensorFlow's tested build configurations). A
# version not listed is tried with the Python asked for, and the installer has the last word.
PYTHON_RANGES: dict[str, tuple[str, str]] = {
    "2.12": ("3.8", "3.11"), "2.13": ("3.8", "3.11"), "2.14": ("3.9", "3.11"), "2.15": ("3.9", "3.11"),
    "2.16": ("3.9", "3.12"), "2.17": ("3.9", "3.12"), "2.18": ("3.9", "3.12"), "2.19": ("3.9", "3.12"),
    "2.20": ("3.9", "3.13"),
}
HARNESS_FILES = ("__init__.py", "weights.py", "article/__init__.py", "article/__main__.py",
                 "article/example1_unseeded.py", "article/example2_seeded.py", "article/example3_cpu_forced.py")
BUILD_TIMEOUT = 1800
RUN_TIMEOUT = 600
# Variables that would make a stack's Python load this kernel's packages instead of its own.
LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONNOUSERSITE", "CONDA_PREFIX")


class StackError(RuntimeError):
    """A stack could not be built or run; the message is one sentence."""


# --------------------------------------------------------------------------- where things go


def cache_root() -> Path:
    """The user's cache folder for the lab (platformdirs knows each OS's place); ``REPRO_LAB_CACHE`` overrides it."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


def stacks_folder() -> Path:
    return cache_root() / "stacks"


def _env_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def tensorflow_package() -> str:
    """The CPU-only wheel where TensorFlow publishes one (no CUDA libraries to download), else the plain one."""
    machine = platform.machine().lower()
    if sys.platform == "win32" or (sys.platform.startswith("linux") and machine in ("x86_64", "amd64")):
        return "tensorflow-cpu"
    return "tensorflow"


# --------------------------------------------------------------------------- Pythons


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def python_range(tensorflow: str) -> tuple[str, str] | None:
    """The oldest and newest Python that TensorFlow ``tensorflow`` has wheels for, if known."""
    return PYTHON_RANGES.get(".".join(tensorflow.split(".")[:2]))


def python_version(executable: str | os.PathLike[str]) -> str | None:
    """``3.11.7`` for a working Python interpreter, None for anything else (a pyenv shim that
    has no such version, a missing file)."""
    try:
        done = subprocess.run([str(executable), "-c", "import platform; print(platform.python_version())"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and VERSION.match(version) else None


def _candidates(minor: str) -> list[str]:
    found = [shutil.which(f"python{minor}") or ""]
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    found += sorted(glob.glob(os.path.join(root, "versions", f"{minor}.*", "bin", f"python{minor}")), reverse=True)
    if sys.platform == "win32" and shutil.which("py"):
        try:
            done = subprocess.run(["py", f"-{minor}", "-c", "import sys; print(sys.executable)"],
                                  capture_output=True, text=True, timeout=30)
            found.append(done.stdout.strip() if done.returncode == 0 else "")
        except (OSError, subprocess.SubprocessError):
            pass
    return [c for c in found if c]


def find_python(minor: str) -> tuple[str, str] | None:
    """A working interpreter of Python ``minor`` (say ``3.11``) on this machine: this kernel's,
    one on PATH, one pyenv installed (its shims fail for versions not selected), or Windows' py
    launcher. Returns (path, full version) or None."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == minor:
        return sys.executable, platform.python_version()
    for candidate in _candidates(minor):
        version = python_version(candidate)
        if version and version.startswith(minor + "."):
            return candidate, version
    return None


def choose_python(tensorflow: str, python: str | None) -> tuple[str, str]:
    """The interpreter a stack is built with: ``python`` (a path or a version such as 3.11), or
    this kernel's when TensorFlow has wheels for it, or the newest on this machine that fits."""
    allowed = python_range(tensorflow)
    if python is not None:
        if re.fullmatch(r"\d+\.\d+", python):
            found = find_python(python)
            if found is None:
                raise StackError(f"no Python {python} was found on this machine; install one (e.g. `uv python "
                                 f"install {python}`) or pass --python with the path to its interpreter.")
        else:
            version = python_version(python)
            if version is None:
                raise StackError(f"{python} is not a working Python interpreter; pass the path to one "
                                 "(e.g. --python /usr/bin/python3.11).")
            found = (python, version)
        if allowed and not _fits(found[1], allowed):
            raise StackError(_needs_sentence(tensorflow, found[1], allowed))
        return found
    here = platform.python_version()
    if allowed is None or _fits(here, allowed):
        return sys.executable, here
    low, high = (_minor(v) for v in allowed)
    for minor in range(high[1], low[1] - 1, -1):
        found = find_python(f"{high[0]}.{minor}")
        if found is not None:
            return found
    raise StackError(_needs_sentence(tensorflow, here, allowed))


def _fits(version: str, allowed: tuple[str, str]) -> bool:
    return _minor(allowed[0]) <= _minor(version) <= _minor(allowed[1])


def _needs_sentence(tensorflow: str, version: str, allowed: tuple[str, str]) -> str:
    return (f"TensorFlow {tensorflow} needs Python {allowed[0]} to {allowed[1]}, not {version}; install one of "
            f"those and pass --python with its path (e.g. --python /usr/bin/python{allowed[1]}).")


# --------------------------------------------------------------------------- stacks


@dataclass(frozen=True)
class Stack:
    """A TensorFlow version to build, with a Keras version (None: whatever that TensorFlow brings)
    and a Python (a path, a version such as ``3.11``, or None: chosen by :func:`choose_python`)."""

    tensorflow: str
    keras: str | None = None
    python: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tensorflow, str) or not VERSION.match(self.tensorflow):
            raise ConfigError(f"a TensorFlow version looks like 2.15.1, not {shown(self.tensorflow)}.")
        if self.keras is not None and (not isinstance(self.keras, str) or not VERSION.match(self.keras)):
            raise ConfigError(f"a Keras version looks like 3.13.2, not {shown(self.keras)}.")

    @property
    def label(self) -> str:
        return f"TF {self.tensorflow}" + (f" / Keras {self.keras}" if self.keras else "")

    def requirements(self) -> list[str]:
        return [f"{tensorflow_package()}=={self.tensorflow}", *([f"keras=={self.keras}"] if self.keras else [])]


def stacks_from(tensorflow: Sequence[str], keras: Sequence[str] | None = None,
                python: str | None = None) -> list[Stack]:
    """Stacks from the CLI's lists: ``keras`` is empty, one version for all, or one per TensorFlow
    version (``auto`` lets that TensorFlow choose)."""
    keras = list(keras or [])
    if len(keras) not in (0, 1, len(tensorflow)):
        raise ConfigError(f"give one Keras version for all stacks or one per TensorFlow version "
                          f"({len(tensorflow)}), not {len(keras)}.")
    if len(keras) == 1:
        keras = keras * len(tensorflow)
    if not tensorflow:
        raise ConfigError("name at least one TensorFlow version, e.g. --tensorflow 2.15.1.")
    return [Stack(tf, None if not keras or keras[i] == "auto" else keras[i], python)
            for i, tf in enumerate(tensorflow)]


@dataclass
class StackResult:
    """One stack's run of the article's Example 2, or the sentence saying why it did not run."""

    label: str
    own: bool = False  # this kernel's own stack
    tensorflow: str | None = None
    keras: str | None = None
    python: str | None = None
    numpy: str | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None
    weights_sha256: str | None = None
    data_sha256: str | None = None
    data_values_sha256: str | None = None
    data_dtypes: list[str] | None = None
    initial_weights_sha256: str | None = None
    environment: str | None = None
    cached: bool = False  # the environment was there already
    build_seconds: float | None = None
    run_seconds: float | None = None
    disk_bytes: int | None = None
    error: str | None = None

    @property
    def ran(self) -> bool:
        return self.error is None and self.weights_sha256 is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stack_folder(stack: Stack, python_version: str) -> Path:
    """Where ``stack`` built with Python ``python_version`` lives; the name says what it holds."""
    keras = stack.keras or "auto"
    major_minor = ".".join(python_version.split(".")[:2])
    tag = f"{sys.platform}-{platform.machine().lower()}"
    return stacks_folder() / f"tf{stack.tensorflow}-keras{keras}-py{major_minor}-{tag}"


def _marker(folder: Path) -> Path:
    return folder / "repro-lab-stack.json"


def folder_bytes(folder: Path) -> int:
    """Bytes the files under ``folder`` take (hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            try:
                info = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


def uv_binary() -> str | None:
    """uv, from its PyPI package in this environment or on PATH (None: not installed)."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def cached(stack: Stack) -> StackResult | None:
    """The cached build of ``stack`` (None if it is not built, or no fitting Python is here)."""
    try:
        _, version = choose_python(stack.tensorflow, stack.python)
    except StackError:
        return None
    marker = _marker(stack_folder(stack, version))
    try:
        saved = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not built, or a marker this lab cannot read: build afresh
        return None
    known = {f.name for f in fields(StackResult)}
    return StackResult(**{**{key: value for key, value in saved.items() if key in known}, "cached": True})


def build(stack: Stack, *, quiet: bool = True) -> StackResult:
    """Build ``stack``'s environment unless it is cached; the result carries no run yet.

    The environment is built in a temporary folder beside its final place and renamed when
    complete, so an interrupted build never looks like a finished one, and two builds of the
    same stack at once cannot mix (the second one's rename fails and its copy is dropped).
    """
    found = cached(stack)
    if found is not None:
        return found
    executable, version = choose_python(stack.tensorflow, stack.python)
    final = stack_folder(stack, version)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=final.name + ".building-", dir=final.parent))
    started = time.perf_counter()
    uv = uv_binary()
    try:
        if uv:
            commands = [[uv, "venv", "--quiet", "--python", executable, str(work)],
                        [uv, "pip", "install", "--quiet", "--python", str(_env_python(work)), *stack.requirements()]]
        else:
            commands = [[executable, "-m", "venv", str(work)],
                        [str(_env_python(work)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                         *stack.requirements()]]
        for command in commands:
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                                      env=_clean_environment())
            except subprocess.TimeoutExpired:
                raise StackError(f"building {stack.label} took longer than {BUILD_TIMEOUT} s, so it was stopped.") \
                    from None
            if done.returncode != 0:
                raise StackError(_build_failure(stack, version, done.stdout + done.stderr, uv is not None))
        result = StackResult(label=stack.label, tensorflow=stack.tensorflow, keras=stack.keras, python=version,
                             environment=str(final), build_seconds=round(time.perf_counter() - started, 1))
        result.disk_bytes = folder_bytes(work)
        _marker(work).write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
        try:
            work.rename(final)
        except OSError:  # built meanwhile by another process: keep theirs
            if not _marker(final).is_file():
                raise
        return result
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _build_failure(stack: Stack, version: str, output: str, with_uv: bool) -> str:
    text = output.lower()
    if any(phrase in text for phrase in ("no matching distribution", "no solution found", "not available for",
                                         "only has wheels", "could not find a version", "unsatisfiable")):
        allowed = python_range(stack.tensorflow)
        needs = f"it needs Python {allowed[0]} to {allowed[1]}" if allowed else "it may need another Python"
        return (f"{stack.label} has no installable wheel for Python {version} on this platform; {needs}: "
                f"install one and pass --python with its path.")
    last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no message")
    return f"building {stack.label} with {'uv' if with_uv else 'pip'} failed: {last}"


def _clean_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _harness_folder() -> Path:
    """The few lab files the article harness needs (NumPy only), copied to a folder of their own.

    A stack's Python must not see this kernel's site-packages, where the lab may be installed
    beside this kernel's TensorFlow and NumPy; so the harness is copied, keyed by its content.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in HARNESS_FILES:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes())
    folder = cache_root() / "harness" / digest.hexdigest()[:16]
    if not (folder / "helpers" / "article" / "__main__.py").is_file():
        staging = Path(tempfile.mkdtemp(prefix="harness-", dir=folder.parent if folder.parent.exists() else None))
        for name in HARNESS_FILES:
            target = staging / "helpers" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(package / name, target)
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(folder)
        except OSError:  # made meanwhile by another process
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def run_article(python: str | os.PathLike[str], example: int = 2) -> dict[str, Any]:
    """The article's Example ``example``, as written, in a fresh process of ``python``."""
    env = _clean_environment()
    env["PYTHONPATH"] = str(_harness_folder())
    started = time.perf_counter()
    try:
        done = subprocess.run([str(python), "-m", "helpers.article", str(example)], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, env=env, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        raise StackError(f"the article's script took longer than {RUN_TIMEOUT} s and was stopped.") from None
    if done.returncode != 0:
        last = next((line.strip() for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        raise StackError(f"the article's script failed: {last}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    answer["wall_seconds"] = time.perf_counter() - started
    return answer


def _fill(result: StackResult, answer: dict[str, Any]) -> StackResult:
    for key in ("tensorflow", "keras", "python", "numpy", "test_accuracy", "test_loss", "weights_sha256",
                "data_sha256", "data_values_sha256", "data_dtypes", "initial_weights_sha256"):
        setattr(result, key, answer.get(key))
    result.run_seconds = round(answer["wall_seconds"], 1)
    return result


def own_stack() -> StackResult:
    """This kernel's own stack, run the same way as the others: the article's script in a fresh process."""
    result = StackResult(label="this kernel", own=True, environment=sys.prefix, cached=True)
    try:
        return _fill(result, run_article(sys.executable))
    except StackError as exc:
        result.error = str(exc)
        return result


def build_command(stacks: Sequence[Stack]) -> str:
    """The CLI command that builds and runs ``stacks``."""
    words = ["python -m helpers stacks --tensorflow", *(s.tensorflow for s in stacks)]
    if any(s.keras for s in stacks):
        words += ["--keras", *(s.keras or "auto" for s in stacks)]
    pythons = {s.python for s in stacks if s.python}
    if pythons:
        words += ["--python", sorted(pythons)[0]]
    return "`" + " ".join(words) + "`"


@dataclass
class StackReport:
    """This kernel's stack first, then every stack asked for, in order; and what changed at each step."""

    results: list[StackResult]
    notes: list[str] = field(default_factory=list)

    @property
    def ran(self) -> list[StackResult]:
        return [r for r in self.results if r.ran]

    def table(self) -> Any:
        """One column per stack, one row per version and stage (a DataFrame)."""
        import pandas as pd

        rows = {
            "TensorFlow": "tensorflow", "Keras": "keras", "Python": "python", "NumPy": "numpy",
            "data": "data_sha256", "initial weights": "initial_weights_sha256", "trained weights": "weights_sha256",
            "test accuracy": "test_accuracy", "test loss": "test_loss", "run (s)": "run_seconds",
            "build (s)": "build_seconds", "disk (GB)": "disk_bytes",
        }
        columns = {}
        for position, result in enumerate(self.results):
            values = {}
            for row, key in rows.items():
                value = getattr(result, key)
                if key.endswith("sha256") and value:
                    value = value[:12]
                elif key == "disk_bytes" and value:
                    value = round(value / 1e9, 2)
                elif key == "build_seconds" and result.cached and not result.own:
                    value = "cached"
                values[row] = "" if value is None else value
            if result.error:
                values["TensorFlow"] = values["TensorFlow"] or result.tensorflow or ""
                values["data"] = "did not run"
            name = result.label if not result.ran or result.own else _stack_name(result)
            columns[f"{position}: {name}"] = values
        return pd.DataFrame(columns)

    def steps(self) -> list[tuple[StackResult, StackResult, list[str]]]:
        """For each pair of neighbouring stacks that ran: what each stage did."""
        ran = self.ran
        return [(a, b, stage_changes(a, b)) for a, b in zip(ran, ran[1:], strict=False)]

    def verdicts(self) -> list[Verdict]:
        """Per version step, one verdict per stage: does the newer stack keep what the older one gave?"""
        found = []
        for a, b, _ in self.steps():
            step = f"{_stack_name(a)} -> {_stack_name(b)}"
            for stage, key in (("same data values", "data_values_sha256"), ("same data bytes", "data_sha256"),
                               ("same initial weights", "initial_weights_sha256"),
                               ("same trained weights", "weights_sha256"), ("same test accuracy", "test_accuracy")):
                found.append(Verdict(f"{step}: {stage}", getattr(a, key) == getattr(b, key),
                                     f"{getattr(a, key)} vs {getattr(b, key)}"))
        return found

    def first_changes(self) -> list[str]:
        """Per version step, one line: the first stage where the two stacks' runs part, and what else changed."""
        lines = []
        for a, b, changes in self.steps():
            stage = first_changed_stage(a, b)
            first = "same bits at every stage" if stage is None else f"first stage that differs: {stage}"
            lines.append(f"{_stack_name(a)} -> {_stack_name(b)}: {first} ({'; '.join(changes)})")
        return lines

    def errors(self) -> list[str]:
        return [f"{r.label}: {r.error}" for r in self.results if r.error]

    def text(self) -> str:
        lines = [self.table().to_string(), "", *self.first_changes(), *self.errors(), *self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"stacks": [r.to_dict() for r in self.results],
                "steps": [{"from": _stack_name(a), "to": _stack_name(b),
                           "first_changed_stage": first_changed_stage(a, b), "changes": changes}
                          for a, b, changes in self.steps()],
                "errors": self.errors(), "notes": self.notes}


def _stack_name(result: StackResult) -> str:
    return f"TF {result.tensorflow} / Keras {result.keras} / Py {'.'.join((result.python or '?').split('.')[:2])}"


STAGES = ("data", "initial weights", "trained weights")


def first_changed_stage(a: StackResult, b: StackResult) -> str | None:
    """The first of data (by value), initial weights and trained weights that differs (None: none)."""
    if (a.data_values_sha256 or a.data_sha256) != (b.data_values_sha256 or b.data_sha256):
        return "data"
    if a.initial_weights_sha256 != b.initial_weights_sha256:
        return "initial weights"
    if a.weights_sha256 != b.weights_sha256:
        return "trained weights"
    return None


def stage_changes(a: StackResult, b: StackResult) -> list[str]:
    """What happened at each stage between two stacks' runs, in words."""
    said = []
    if a.data_sha256 == b.data_sha256:
        said.append("data identical")
    elif a.data_values_sha256 and a.data_values_sha256 == b.data_values_sha256:
        types = f"{'/'.join(sorted(set(a.data_dtypes or [])))} -> {'/'.join(sorted(set(b.data_dtypes or [])))}"
        said.append(f"data: same values, stored differently ({types})")
    else:
        said.append("data differ")
    same_start = a.initial_weights_sha256 == b.initial_weights_sha256
    said.append("initial weights " + ("identical" if same_start else "differ"))
    said.append("trained weights " + ("identical" if a.weights_sha256 == b.weights_sha256 else "differ"))
    if a.test_accuracy == b.test_accuracy:
        said.append(f"test accuracy equal ({a.test_accuracy:.6g})")
    else:
        said.append(f"test accuracy {a.test_accuracy:.6g} -> {b.test_accuracy:.6g}")
    return said


def _not_built(stack: Stack) -> StackResult:
    return StackResult(label=stack.label, tensorflow=stack.tensorflow, keras=stack.keras,
                       error=f"not built on this machine yet: {build_command([stack])} builds it once (seconds "
                             "with uv, a minute or two with pip; about 1.2 GB on disk).")


def _prepare(stack: Stack, build_missing: bool) -> StackResult:
    """The stack's environment, cached or built now; or a result carrying the sentence why not."""
    try:
        choose_python(stack.tensorflow, stack.python)  # no fitting Python: say so, built or not
        found = cached(stack)
        if found is None:
            found = build(stack) if build_missing else _not_built(stack)
    except StackError as exc:
        found = StackResult(label=stack.label, tensorflow=stack.tensorflow, keras=stack.keras, error=str(exc))
    found.label = stack.label
    return found


def _run(prepared: StackResult) -> StackResult:
    if prepared.error:
        return prepared
    try:
        return _fill(prepared, run_article(_env_python(Path(prepared.environment or ""))))
    except StackError as exc:
        prepared.error = str(exc)
        return prepared


def run_stacks(stacks: Sequence[Stack], *, build_missing: bool = True, parallel: int | None = None,
               include_own: bool = True) -> StackReport:
    """This kernel's stack, then each of ``stacks``: built once (cached) and run in fresh processes.

    Builds happen one at a time (they download); the runs go ``parallel`` at a time (default:
    the cores), each a fresh process with TensorFlow's default threads, as the article's script.
    A stack that cannot be built or run says why in its result's ``error``; the others go on.
    """
    stacks = list(stacks)
    for stack in stacks:
        if not isinstance(stack, Stack):
            raise ConfigError(f"each stack must be a Stack, not {type(stack).__name__}.")
    prepared = [_prepare(stack, build_missing) for stack in stacks]
    if parallel is None:
        parallel = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    jobs: list[StackResult | None] = ([None] if include_own else []) + prepared
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        results = list(pool.map(lambda job: own_stack() if job is None else _run(job), jobs))
    return StackReport(results)
