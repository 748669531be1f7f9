"""Building a virtual environment: with uv when it is there, else (or when uv fails) with venv and pip.

uv builds TensorFlow's environments in seconds from its cache where pip takes more than a minute,
but it reads neither pip's configuration nor, by default, the system's certificate store. On a
company or university network that inspects TLS, or behind a package mirror set up for pip, a
plain uv build fails where pip works. So uv is given the system's certificates and pip's index
settings, and a uv build that fails anyway is done again with venv and pip. Standard library only:
``tools/colab_check.py`` uses this before anything is installed.

Both leave the environment with its bytecode compiled, as pip does by default and uv only when asked
(``--compile-bytecode``). Without it, a Python run with ``PYTHONDONTWRITEBYTECODE`` set (many CI and
container images set it; this lab's development machine does) compiles every module it imports, every time:
``import tensorflow`` took 4.3 s instead of 1.75 s in TensorFlow 2.15.1's stack, 5.4 s instead of 2.4 s in
Colab's (2026-12-07, docs/speed.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# pip's settings (environment variables; pip's config files are read through `pip config list`)
# and the uv settings that mean the same.
PIP_TO_UV = {
    "index-url": "UV_DEFAULT_INDEX",
    "extra-index-url": "UV_INDEX",
    "find-links": "UV_FIND_LINKS",
    "cert": "SSL_CERT_FILE",
    "client-cert": "SSL_CLIENT_CERT",
}


class InstallError(RuntimeError):
    """An environment could not be built; the message is one sentence, ``output`` what the installer said."""

    def __init__(self, message: str, output: str = "", installer: str = ""):
        super().__init__(message)
        self.output = output
        self.installer = installer


def env_python(folder: str | os.PathLike[str]) -> Path:
    """The interpreter of the virtual environment in ``folder``."""
    return Path(folder) / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def uv_binary() -> str | None:
    """uv, from its package in this Python's environment or on PATH (None: not installed)."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def pip_settings(python: str | None = None) -> dict[str, str]:
    """pip's index, link and certificate settings as pip itself would use them: its environment
    variables (``PIP_INDEX_URL`` ...) over its config files (``pip config list``)."""
    found: dict[str, str] = {}
    try:
        done = subprocess.run([python or sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                              text=True, timeout=60)
        lines = done.stdout.splitlines() if done.returncode == 0 else []
    except (OSError, subprocess.SubprocessError):
        lines = []
    for line in lines:  # global.index-url='https://...'
        key, sep, value = line.partition("=")
        name = key.split(".", 1)[-1]
        if sep and name in PIP_TO_UV:
            found[name] = value.strip().strip("'\"")
    for name in PIP_TO_UV:
        value = os.environ.get("PIP_" + name.upper().replace("-", "_"))
        if value:
            found[name] = value
    return found


def uv_environment(base: Mapping[str, str] | None = None, pip: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (this process's environment) for uv: the system's certificates, pip's index settings."""
    env = dict(os.environ if base is None else base)
    env.setdefault("UV_SYSTEM_CERTS", "1")
    settings = pip_settings() if pip is None else pip
    for name, value in settings.items():
        target = PIP_TO_UV[name]
        if target in ("UV_INDEX", "UV_FIND_LINKS"):
            value = " ".join(value.split())  # pip separates several by white space, as uv does
        env.setdefault(target, value)
    if "index-url" in settings or "extra-index-url" in settings:
        # pip takes the best version from all its indexes together; uv by default only looks at the first
        # index that has a package at all. Measured here: a mirror holding some tensorflow-cpu versions, as
        # pip's first extra index, made uv answer "no version of tensorflow-cpu==2.10.1" where pip built it.
        env.setdefault("UV_INDEX_STRATEGY", "unsafe-best-match")
    return env


def _run(command: Sequence[str], env: Mapping[str, str], timeout: float, cwd: Path | None) -> str | None:
    """None when ``command`` succeeded, else what it printed (or why it did not finish)."""
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, env=dict(env), cwd=cwd)
    except subprocess.TimeoutExpired:
        return f"it took longer than {timeout:.0f} s and was stopped"
    except OSError as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stdout + done.stderr)


def build_environment(interpreter: str, folder: Path, installs: Sequence[Sequence[str]], *,
                      env: Mapping[str, str] | None = None, timeout: float = 1800, cwd: Path | None = None,
                      uv: str | None = "") -> str:
    """A new virtual environment in ``folder`` made with ``interpreter``, then ``pip install ARGS``
    for each of ``installs`` in turn. uv first; if it is missing or fails, venv and pip from scratch.

    ``uv`` is the uv binary to use: "" finds it (:func:`uv_binary`), None means venv and pip only.
    Returns the installer that built it ("uv" or "pip"). Raises :class:`InstallError` when neither
    could, with what the last one said.
    """
    base = dict(os.environ if env is None else env)
    uv = uv_binary() if uv == "" else uv
    plans = []
    if uv:
        last = len(installs) - 1  # uv compiles the whole environment when asked, so only the last install asks
        plans.append(("uv", uv_environment(base),
                      [[uv, "venv", "--quiet", "--python", interpreter, str(folder)],
                       *([uv, "pip", "install", "--quiet", *(["--compile-bytecode"] if step == last else []),
                          "--python", str(env_python(folder)), *args] for step, args in enumerate(installs))]))
    plans.append(("pip", base,
                  [[interpreter, "-m", "venv", "--clear", str(folder)],
                   *([str(env_python(folder)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      *args] for args in installs)]))
    failures = []
    for installer, installer_env, steps in plans:
        shutil.rmtree(folder, ignore_errors=True)  # a fresh start (uv venv would ask before replacing one)
        output = next((out for out in (_run(step, installer_env, timeout, cwd) for step in steps) if out is not None),
                      None)
        if output is None:
            return installer
        failures.append((installer, output))
    installer, output = failures[-1]
    tried = " and ".join(name for name, _ in failures)
    raise InstallError(f"{tried} could not build the environment: {last_line(output)}", output, installer)


def compile_bytecode(folder: Path, env: Mapping[str, str] | None = None, timeout: float = 600) -> bool:
    """Compile every module of the environment in ``folder`` with its own Python, in one process per core (for
    an environment built before this module compiled at build time; about 4 s for TensorFlow 2.15.1's here).
    False when it could not run: the environment still works, only its imports stay slower. A module it cannot
    compile (a package's file for another Python) is left as it is, as pip leaves it."""
    library = next((folder / name for name in ("lib", "Lib") if (folder / name).is_dir()), folder)
    try:
        subprocess.run([str(env_python(folder)), "-m", "compileall", "-q", "-j", "0", str(library)],
                       capture_output=True, timeout=timeout, env=dict(os.environ if env is None else env))
    except (OSError, subprocess.TimeoutExpired):
        return False
    return True


def last_line(output: str) -> str:
    """The last line that says something (an installer's error is at the end)."""
    return next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no message")
