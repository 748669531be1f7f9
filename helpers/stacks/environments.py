"""Environments for other TensorFlow/Keras versions: built once, cached, reused.

One environment per stack (a TensorFlow version, optionally a Keras version, and a Python), in
the user's cache folder. Built with uv when it is there (seconds from its cache; about 10 s for
TensorFlow 2.15.1 here), else with venv and pip (more than a minute). A stack whose TensorFlow
has no wheel for the chosen Python gets one sentence saying which Python it needs.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from helpers.core.cache import APP_NAME, CACHE_ENV, cache_root  # noqa: F401 (the first two: read from here too)
from helpers.core.config import ConfigError, shown
from helpers.running.elsewhere import isolated_environment
from helpers.stacks.installers import InstallError, build_environment, compile_bytecode
from helpers.stacks.pythons import VERSION, find_python, python_version

# The Pythons TensorFlow publishes wheels for (TensorFlow's tested build configurations). A
# version not listed is tried with the Python asked for, and the installer has the last word.
PYTHON_RANGES: dict[str, tuple[str, str]] = {
    "2.10": ("3.7", "3.10"), "2.11": ("3.7", "3.10"),
    "2.12": ("3.8", "3.11"), "2.13": ("3.8", "3.11"), "2.14": ("3.9", "3.11"), "2.15": ("3.9", "3.11"),
    "2.16": ("3.9", "3.12"), "2.17": ("3.9", "3.12"), "2.18": ("3.9", "3.12"), "2.19": ("3.9", "3.12"),
    "2.20": ("3.9", "3.13"),
}
BUILD_TIMEOUT = 1800
BYTECODE = "bytecode"  # the marker's key saying the environment's modules are compiled
FIRST_WITH_NUMPY_2 = (2, 18)  # TensorFlow's first release built for NumPy 2 (its release notes)
TENSORFLOW_PACKAGES = ("tensorflow", "tensorflow-cpu")


class StackError(RuntimeError):
    """A stack could not be built or run; the message is one sentence."""


def stacks_folder() -> Path:
    return cache_root() / "stacks"


def tensorflow_package() -> str:
    """The CPU-only wheel where TensorFlow publishes one (no CUDA libraries to download), else the plain one."""
    machine = platform.machine().lower()
    if sys.platform == "win32" or (sys.platform.startswith("linux") and machine in ("x86_64", "amd64")):
        return "tensorflow-cpu"
    return "tensorflow"


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def python_range(tensorflow: str) -> tuple[str, str] | None:
    """The oldest and newest Python that TensorFlow ``tensorflow`` has wheels for, if known."""
    return PYTHON_RANGES.get(".".join(tensorflow.split(".")[:2]))


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


@dataclass(frozen=True)
class Stack:
    """A TensorFlow version to build, with a Keras version (None: whatever that TensorFlow brings)
    and a Python (a path, a version such as ``3.11``, or None: chosen by :func:`choose_python`).

    ``numpy`` pins NumPy exactly (None: below 2 for TensorFlow before 2.18, which was built for NumPy 1
    but does not say so before 2.12, so a fresh environment would get NumPy 2 and fail to import).
    ``tf_keras`` is Keras 2 on TensorFlow 2.16+: that tf_keras, with ``TF_USE_LEGACY_KERAS=1`` in every
    run. ``package`` is the TensorFlow distribution (None: the CPU-only one where it is published).
    """

    tensorflow: str
    keras: str | None = None
    python: str | None = None
    numpy: str | None = None
    tf_keras: str | None = None
    package: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tensorflow, str) or not VERSION.match(self.tensorflow):
            raise ConfigError(f"a TensorFlow version looks like 2.15.1, not {shown(self.tensorflow)}.")
        for name, shown_as, example in (("keras", "Keras", "3.13.2"), ("numpy", "NumPy", "1.26.4"),
                                        ("tf_keras", "tf_keras", "2.16.0")):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not VERSION.match(value)):
                raise ConfigError(f"a {shown_as} version looks like {example}, not {shown(value)}.")
        if self.package is not None and self.package not in TENSORFLOW_PACKAGES:
            raise ConfigError(f"package must be one of {', '.join(TENSORFLOW_PACKAGES)}, not {shown(self.package)}.")

    @property
    def label(self) -> str:
        parts = [f"TF {self.tensorflow}"]
        parts += [f"Keras {self.keras}"] if self.keras else []
        parts += [f"tf_keras {self.tf_keras}"] if self.tf_keras else []
        parts += [f"NumPy {self.numpy}"] if self.numpy else []
        return " / ".join(parts)

    def requirements(self) -> list[str]:
        found = [f"{self.package or tensorflow_package()}=={self.tensorflow}"]
        found += [f"keras=={self.keras}"] if self.keras else []
        found += [f"tf_keras=={self.tf_keras}"] if self.tf_keras else []
        if self.numpy:
            found.append(f"numpy=={self.numpy}")
        elif _minor(self.tensorflow) < FIRST_WITH_NUMPY_2:
            found.append("numpy<2")
        return found

    def environment(self) -> dict[str, str]:
        """What every run in this stack sets before TensorFlow starts."""
        return {"TF_USE_LEGACY_KERAS": "1"} if self.tf_keras else {}

    def folder_name(self, python_version: str) -> str:
        major_minor = ".".join(python_version.split(".")[:2])
        extras = "".join(f"-{name}{value}" for name, value in (("numpy", self.numpy), ("tfkeras", self.tf_keras),
                                                               ("", self.package)) if value)
        tag = f"{sys.platform}-{platform.machine().lower()}"
        return f"tf{self.tensorflow}-keras{self.keras or 'auto'}-py{major_minor}{extras}-{tag}"


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
    installer: str | None = None  # "uv" or "pip": what built the environment
    error: str | None = None

    @property
    def ran(self) -> bool:
        return self.error is None and self.weights_sha256 is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stack_folder(stack: Stack, python_version: str) -> Path:
    """Where ``stack`` built with Python ``python_version`` lives; the name says what it holds."""
    return stacks_folder() / stack.folder_name(python_version)


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


def cached(stack: Stack) -> StackResult | None:
    """The cached build of ``stack`` (None if it is not built, or no fitting Python is here). One cached before
    the lab compiled its stacks' bytecode is compiled first (about 4 s, once)."""
    try:
        _, version = choose_python(stack.tensorflow, stack.python)
    except StackError:
        return None
    folder = stack_folder(stack, version)
    try:
        saved = json.loads(_marker(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not built, or a marker this lab cannot read: build afresh
        return None
    if not saved.get(BYTECODE):
        _with_bytecode(folder)
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
    try:
        try:
            installer = build_environment(executable, work, [stack.requirements()], env=clean_environment(),
                                          timeout=BUILD_TIMEOUT)
        except InstallError as exc:
            raise StackError(_build_failure(stack, version, exc.output, exc.installer)) from None
        result = StackResult(label=stack.label, tensorflow=stack.tensorflow, keras=stack.keras, python=version,
                             environment=str(final), build_seconds=round(time.perf_counter() - started, 1),
                             installer=installer)
        result.disk_bytes = folder_bytes(work)
        marker = {**result.to_dict(), BYTECODE: True}  # both installers compiled it (helpers.stacks.installers)
        _marker(work).write_text(json.dumps(marker, indent=1), encoding="utf-8")
        try:
            work.rename(final)
        except OSError:  # built meanwhile by another process: keep theirs
            if not _marker(final).is_file():
                raise
        return result
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _with_bytecode(folder: Path) -> None:
    """A stack cached before the lab compiled stacks' bytecode at build time is compiled once, now: with
    ``PYTHONDONTWRITEBYTECODE`` set, its every TensorFlow start would compile thousands of modules again."""
    marker = _marker(folder)
    try:
        saved = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if saved.get(BYTECODE):
        return
    if compile_bytecode(folder, env=clean_environment()):
        marker.write_text(json.dumps({**saved, BYTECODE: True}, indent=1), encoding="utf-8")


def _build_failure(stack: Stack, version: str, output: str, installer: str) -> str:
    text = output.lower()
    if any(phrase in text for phrase in ("no matching distribution", "no solution found", "not available for",
                                         "only has wheels", "could not find a version", "unsatisfiable")):
        allowed = python_range(stack.tensorflow)
        needs = f"it needs Python {allowed[0]} to {allowed[1]}" if allowed else "it may need another Python"
        return (f"{stack.label} has no installable wheel for Python {version} on this platform; {needs}: "
                f"install one and pass --python with its path.")
    last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no message")
    return f"building {stack.label} with {installer or 'pip'} failed: {last}"


def clean_environment() -> dict[str, str]:
    """This process's environment without what would make a stack's Python load this kernel's packages."""
    env = isolated_environment(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


