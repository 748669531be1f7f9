"""Open the lab, or run every test, on Linux, macOS or Windows with nothing installed but Python.

    python3 tools/lab.py              open JupyterLab on notebooks/      (Windows: py tools/lab.py)
    python3 tools/lab.py test [ARGS]  run every test: python -m pytest [ARGS], one process per core (up to 4)
    python3 tools/lab.py quick [ARGS] the contributor's loop: every test but the browser, the notebooks,
                                      other TensorFlow stacks, the network and TensorFlow's workers
    python3 tools/lab.py install      only bring .venv up to date (what `make` calls)

The first run creates .venv with the Python that runs this script, installs requirements.txt
(with uv, which pip installs first as pinned there; with pip when uv fails), then the lab itself
(``pip install --no-deps -e .``). Later runs install again only when requirements.txt,
pyproject.toml or the Python changed. Standard library only (and the lab's
helpers/stacks/installers.py, which is too), because it runs before anything is installed.
Exit codes: the command's own; 2 with one sentence on stderr when the lab cannot be set up here.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
STAMP_NAME = ".installed"
INSTALL_INPUTS = ("requirements.txt", "pyproject.toml")
# The pytest markers the quick loop leaves out (pyproject.toml defines them): what needs a browser, runs
# a notebook, builds another TensorFlow stack, waits on the package index or starts TensorFlow workers
# (with the last kept in, the loop took 544 s here instead of 58 s; docs/speed.md).
QUICK = "not browser and not notebooks and not stacks and not network and not slow"
# The tests run in this many processes at most, one per core (pytest-xdist), each taking whole files
# (``--dist loadfile``): a file's fixtures share TensorFlow runs between its tests. More would mostly add
# memory, since most tests start TensorFlow workers of their own (docs/speed.md: "The test suite").
MAX_TEST_PROCESSES = 4
# Bump when the install steps below change, so existing environments are brought up to date.
RECIPE = 2

# The Pythons whose wheels requirements.txt resolves to on every platform below
# (tests/test_platforms.py proves it): NumPy 2.4 and pandas 3.1 need 3.11, TensorFlow 2.21 stops at 3.13.
PYTHONS = ((3, 11), (3, 12), (3, 13))
# (sys.platform, platform.machine()) -> name: where the pinned TensorFlow has a wheel.
PLATFORMS = {
    ("linux", "x86_64"): "Linux x86_64",
    ("darwin", "arm64"): "macOS on Apple silicon (arm64)",
    ("win32", "AMD64"): "Windows x86-64",
}
# TensorFlow's Windows build links against the Visual C++ runtime, which Python does not ship.
WINDOWS_RUNTIME_DLLS = ("msvcp140.dll", "msvcp140_1.dll")
# The longest file name inside the tensorflow-cpu 2.21.0 Windows wheel, from site-packages on.
LONGEST_TENSORFLOW_PATH = 163
WINDOWS_MAX_PATH = 259  # MAX_PATH (260) less the terminating NUL, unless long paths are enabled

Runner = Callable[..., subprocess.CompletedProcess]


class LabError(Exception):
    """The lab cannot be set up here; the message is one sentence saying why and what to do."""


def python_range() -> str:
    low, high = PYTHONS[0], PYTHONS[-1]
    return f"Python {low[0]}.{low[1]} to {high[0]}.{high[1]}"


def check_python(version: Sequence[int] = sys.version_info) -> None:
    if tuple(version[:2]) not in PYTHONS:
        found = ".".join(str(part) for part in version[:3])
        newest = ".".join(map(str, PYTHONS[-1]))
        raise LabError(
            f"Python {found} is not supported: the lab's pinned TensorFlow, NumPy and pandas need "
            f"{python_range()}; run this script with one of those (on Windows, for example: py -{newest} tools/lab.py)."
        )


def check_platform(system: str = sys.platform, machine: str = platform.machine()) -> None:
    if (system, machine) in PLATFORMS:
        return
    if system == "darwin":
        raise LabError(
            f"This Python is built for {machine}, and TensorFlow publishes macOS wheels only for Apple silicon "
            "(arm64): on an Apple-silicon Mac install the arm64 (universal2) Python from python.org instead of an "
            "Intel build running under Rosetta; Intel Macs are not supported."
        )
    raise LabError(f"The lab's pinned TensorFlow has wheels for {', '.join(PLATFORMS.values())}, "
                   f"not for {system} on {machine}.")


def _load_dll(name: str) -> None:
    import ctypes

    ctypes.WinDLL(name)  # type: ignore[attr-defined]


def check_windows_runtime(load: Callable[[str], object] = _load_dll) -> None:
    """Fail before a 350 MB download rather than at ``import tensorflow`` (TensorFlow's own check)."""
    missing = []
    for name in WINDOWS_RUNTIME_DLLS:
        try:
            load(name)
        except OSError:
            missing.append(name)
    if missing:
        raise LabError(
            f"TensorFlow on Windows needs Microsoft's Visual C++ runtime, and {' and '.join(missing)} "
            "is missing: install it (in PowerShell: winget install Microsoft.VCRedist.2015+.x64, or Microsoft's "
            "\"Visual C++ Redistributable for Visual Studio 2015-2022\", x64), then run this again."
        )


def _long_paths_enabled() -> bool:
    try:
        import winreg

        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Control\FileSystem") as key:
            return winreg.QueryValueEx(key, "LongPathsEnabled")[0] == 1
    except OSError:
        return False


def check_windows_path(venv_dir: Path, long_paths: Callable[[], bool] = _long_paths_enabled) -> None:
    site_packages = venv_dir / "Lib" / "site-packages"
    if len(str(site_packages)) + 1 + LONGEST_TENSORFLOW_PATH > WINDOWS_MAX_PATH and not long_paths():
        raise LabError(
            f"The folder {venv_dir.parent} is too deep for TensorFlow's longest file names (Windows allows "
            f"{WINDOWS_MAX_PATH + 1} characters unless long paths are enabled): clone the lab to a shorter "
            "folder such as C:\\lab, or enable long paths (LongPathsEnabled in the registry) and run this again."
        )


def venv_python(venv_dir: Path = VENV, os_name: str = os.name) -> Path:
    return venv_dir / ("Scripts/python.exe" if os_name == "nt" else "bin/python")


def inputs_digest(root: Path = ROOT) -> str:
    """What the environment is made from: the two files, this Python and the install recipe."""
    digest = hashlib.sha256(f"{RECIPE} {_minor(sys.version_info)} {sys.platform}\n".encode())
    for name in INSTALL_INPUTS:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def _minor(version: Sequence[int]) -> str:
    return f"{version[0]}.{version[1]}"


def _venv_version(python: Path, run: Runner) -> str | None:
    """The Python version (3.X) inside .venv, or None when it is missing or broken (its Python was removed)."""
    if not python.exists():
        return None
    try:
        done = run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                   capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _create_venv(venv_dir: Path) -> None:
    print(f"tools/lab.py: creating {venv_dir.name} with Python {platform.python_version()} ({sys.executable})",
          flush=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(venv_dir, ignore_errors=True)
        hint = (" (Debian and Ubuntu ship venv separately: sudo apt install python3-venv, or python3.X-venv for your X)"
                if sys.platform == "linux" else "")
        raise LabError(f"Could not create {venv_dir.name} with this Python ({str(exc).rstrip('.')}){hint}.") from None


def _pip(python: Path, args: Sequence[str], what: str, run: Runner, root: Path) -> None:
    # Progress bars for people; quiet in CI logs.
    quiet = [] if sys.stdout.isatty() else ["--quiet"]
    done = run([str(python), "-m", "pip", "install", *quiet, *args], cwd=root)
    if done.returncode != 0:
        raise LabError(f"Installing {what} into .venv failed (pip's message is above); fix that and run this again.")


def _pinned(root: Path, name: str) -> str | None:
    """``NAME==VERSION`` as requirements.txt pins it, or None."""
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.split("#")[0].strip()
    return None


def _uv_install(python: Path, run: Runner, root: Path) -> bool:
    """requirements.txt installed by uv, which pip installs first (its pin in requirements.txt): False, after
    saying so, when that fails, and pip installs it instead. uv gets pip's index settings and the system's
    certificates (helpers.stacks.installers, standard library only like this script)."""
    pin = _pinned(root, "uv")
    if pin is None:
        return False
    uv = python.parent / ("uv.exe" if os.name == "nt" else "uv")
    quiet = [] if sys.stdout.isatty() else ["--quiet"]
    if str(ROOT) not in sys.path:  # run as a script: this lab's own helpers, whatever ``root`` is
        sys.path.insert(0, str(ROOT))
    from helpers.stacks.installers import pip_settings, uv_environment

    done = run([str(python), "-m", "pip", "install", *quiet, pin], cwd=root)
    if done.returncode == 0:
        done = run([str(uv), "pip", "install", *quiet, "--compile-bytecode", "--python", str(python),
                    "-r", "requirements.txt"],
                   cwd=root, env=uv_environment(dict(os.environ), pip=pip_settings(str(python))))
    if done.returncode != 0:
        print("tools/lab.py: uv could not install requirements.txt (its message is above); pip installs it instead",
              flush=True)
    return done.returncode == 0


def ensure_environment(root: Path = ROOT, run: Runner = subprocess.run) -> Path:
    """Create or update .venv as needed and return its Python."""
    check_python()
    check_platform()
    venv_dir = root / ".venv"
    python = venv_python(venv_dir)
    stamp = venv_dir / STAMP_NAME
    wanted = inputs_digest(root)
    running_inside = Path(sys.prefix).resolve() == venv_dir.resolve()
    if not running_inside and _venv_version(python, run) != _minor(sys.version_info):
        if sys.platform == "win32":
            check_windows_path(venv_dir)
            check_windows_runtime()
        _create_venv(venv_dir)
    elif _read_stamp(stamp) == wanted:
        return python
    print("tools/lab.py: installing requirements.txt and the lab into .venv "
          "(a few minutes the first time: about 2 GB with TensorFlow)", flush=True)
    started = time.perf_counter()
    # uv installs the requirements in about a third of pip's time (2026-12-07 here, a new .venv, side by side:
    # 21.0 s against 58.6 s; from empty caches 23 s against 53 s; docs/speed.md), and compiles them as pip does.
    if not _uv_install(python, run, root):
        _pip(python, ["--upgrade", "pip"], "pip", run, root)
        _pip(python, ["-r", "requirements.txt"], "requirements.txt", run, root)
    _pip(python, ["--no-deps", "-e", "."], "the lab", run, root)
    stamp.write_text(json.dumps({"inputs": wanted, "python": platform.python_version()}) + "\n", encoding="utf-8")
    print(f"tools/lab.py: .venv is ready ({time.perf_counter() - started:.0f} s)", flush=True)
    return python


def _read_stamp(stamp: Path) -> str | None:
    try:
        return json.loads(stamp.read_text(encoding="utf-8")).get("inputs")
    except (OSError, ValueError, AttributeError):
        return None


def jupyter_command(python: Path, root: Path = ROOT) -> list[str]:
    command = [str(python), "-m", "jupyter", "lab", str(root / "notebooks")]
    # Jupyter refuses to run as root unless told; containers and CI machines often are root. Windows has no root.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def run_child(command: Sequence[str], cwd: Path = ROOT) -> int:
    """Run a command to its end and return its exit code. Ctrl+C reaches the child too (same terminal or
    console); the child decides what it means (JupyterLab asks, pytest stops), and we wait for it."""
    process = subprocess.Popen(list(command), cwd=cwd)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def available_cores() -> int:
    """The cores this process may use (its affinity mask where the OS has one, as in containers and CI).
    The same count as helpers.running.processes.available_cores, which this script cannot import: it runs
    before NumPy is installed."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        return max(1, counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def parallel_options(args: Sequence[str], cores: int | None = None) -> list[str]:
    """pytest-xdist's options for the tests, unless the arguments already choose (``-n 0`` runs in one process)."""
    chosen = any(arg.startswith(("-n", "--numprocesses", "--dist")) or arg == "no:xdist" for arg in args)
    processes = min(MAX_TEST_PROCESSES, available_cores() if cores is None else cores)
    if chosen or processes < 2:
        return []
    return ["-n", str(processes), "--dist", "loadfile"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args else "lab"
    if command not in ("lab", "test", "quick", "install"):
        print(f"tools/lab.py: unknown command {command!r}; use lab (the default), test [PYTEST ARGS], "
              "quick [PYTEST ARGS] or install.", file=sys.stderr)
        return 2
    if args and command not in ("test", "quick"):
        print(f"tools/lab.py: {command} takes no arguments (got {' '.join(args)}).", file=sys.stderr)
        return 2
    try:
        python = ensure_environment()
    except LabError as exc:
        print(f"tools/lab.py: {exc}", file=sys.stderr)
        return 2
    if command == "install":
        (VENV / STAMP_NAME).touch()  # for make: the environment is as new as its inputs
        return 0
    if command == "test":
        return run_child([str(python), "-m", "pytest", *parallel_options(args), *args])
    if command == "quick":
        return run_child([str(python), "-m", "pytest", "tests", "-m", QUICK, "-q", *parallel_options(args), *args])
    return run_child(jupyter_command(python))


if __name__ == "__main__":
    sys.exit(main())
