"""The Colab check: run the notebooks on Colab's own package versions, installed the way Colab installs the lab.

    python3 tools/colab_check.py                 build .venv-colab from colab-pins.txt (if needed), install the
                                                 lab as the notebooks' Colab setup cell does, check that this
                                                 changed none of Colab's packages, then run every notebook under
                                                 nbval and tests/test_panel.py there (what CI's .ci/run calls)
    python3 tools/colab_check.py prepare         only build .venv-colab (CI starts this early, beside the tests)
    python3 tools/colab_check.py update FREEZE --source TEXT --date YYYY-MM-DD
                                                 rewrite colab-pins.txt from Colab's published pip freeze

Colab's runtime is Python 3.13 with TensorFlow, NumPy, pandas, matplotlib and ipywidgets of its own, older
than requirements.txt's. The lab's package must work with them and must not replace them. The check needs the
Python that colab-pins.txt names (``python3.13`` on PATH, or COLAB_CHECK_PYTHON); without it, it fails and says
so: a check that quietly skips would prove nothing.

Exit codes: 0 all good; 1 a difference or a failed test (listed); 2 the check could not run (one sentence).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script, before anything is installed: the lab's finder and builder
    sys.path.insert(0, str(ROOT))
from helpers.stacks.installers import InstallError, build_environment, uv_binary  # noqa: E402 (stdlib only)
from helpers.stacks.pythons import find_python as find_any_python  # noqa: E402
from helpers.stacks.pythons import python_version  # noqa: E402
from tools.lab import parallel_options  # noqa: E402 (standard library only, like this script)

PINS = ROOT / "colab-pins.txt"
VENV = ROOT / ".venv-colab"
LAB_NAME = "keras-repro-lab"
PYTHON_OVERRIDE = "COLAB_CHECK_PYTHON"
# What must run on Colab's versions: the notebooks' imports, the kernel nbval talks to, and the test tools.
# The lab's own dependencies (pyproject.toml) are added to these by `update`.
COLAB_ROOTS = ("tensorflow", "keras", "numpy", "pandas", "matplotlib", "ipywidgets", "ipykernel", "ipython",
               "jupyter_client", "nbformat", "tqdm", "py-cpuinfo", "psutil", "pytest", "pip", "setuptools", "wheel",
               "scikit-learn")  # scikit-learn: the digits model of notebook 07
# Not in Colab: only what CI needs to run the notebooks as tests (pytest-xdist: two at a time, see check()).
TEST_ONLY_ROOTS = ("nbval", "pytest-timeout", "pytest-xdist")
NOT_COLAB = "# Not in Colab: CI's test tools, and what they need that Colab lacks."


class CheckError(Exception):
    """The check cannot run; the message is one sentence saying why and what to do."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- the pins file


def read_pins(path: Path = PINS) -> tuple[dict[str, str], dict[str, str]]:
    """(header fields such as python/date/source, {canonical name: version}) from colab-pins.txt."""
    header: dict[str, str] = {}
    pins: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CheckError(f"{path.name} is missing; make it with `python3 tools/colab_check.py update`.") from None
    for line in lines:
        field = re.match(r"#\s*(python|date|source):\s*(.+)$", line)
        if field:
            header[field.group(1)] = field.group(2).strip()
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise CheckError(f"{path.name}: {line!r} is not pinned with ==; every line must be NAME==VERSION.")
            pins[canonical(name)] = version.strip()
    if "python" not in header:
        raise CheckError(f"{path.name} does not say which Python Colab runs (a line `# python: 3.X`).")
    return header, pins


def parse_freeze(text: str) -> dict[str, tuple[str, str]]:
    """Colab's pip freeze as {canonical name: (name as written, version)}; direct-URL lines are skipped."""
    found = {}
    for line in text.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not name.startswith(("#", "-")):
            found[canonical(name)] = (name.strip(), version.strip())
    return found


def lab_dependencies(root: Path = ROOT) -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [re.split(r"[\s<>=!~;\[]", dep, maxsplit=1)[0] for dep in project.get("dependencies", [])]


def update(freeze_path: Path, source: str, date: str, python_version: str) -> int:
    """Resolve what the check needs against Colab's freeze (as constraints) with Colab's Python, on Linux
    like Colab, and write colab-pins.txt: Colab's versions first, then the few packages Colab lacks."""
    try:
        freeze = parse_freeze(freeze_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckError(f"cannot read Colab's pip freeze at {freeze_path} ({exc.strerror}).") from None
    want = python_version
    interpreter = find_python(want)
    roots = sorted({*COLAB_ROOTS, *lab_dependencies(), *TEST_ONLY_ROOTS}, key=canonical)
    missing = [r for r in roots if canonical(r) not in freeze and r not in TEST_ONLY_ROOTS]
    if missing:
        raise CheckError(f"Colab's freeze has no {', '.join(missing)}; the check cannot use Colab's version of it.")
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in freeze.values()), encoding="utf-8")
        report = Path(tmp) / "report.json"
        # Run by Colab's Python, so markers (python_version, sys_platform) are evaluated as on Colab.
        command = [interpreter, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                   "--only-binary=:all:", "--report", str(report), "-c", str(constraints), *roots]
        if subprocess.run(command).returncode != 0:
            raise CheckError("pip could not resolve the check's packages against Colab's freeze "
                             "(its message is above).")
        items = {canonical(item["metadata"]["name"]): item["metadata"]
                 for item in json.loads(report.read_text(encoding="utf-8"))["install"]}
    colab = sorted((meta["name"], meta["version"]) for name, meta in items.items() if name in freeze)
    extra = sorted((items[name]["name"], items[name]["version"]) for name in _test_tools(items, freeze, want))
    lines = [
        "# Colab's own package versions, for CI's Colab check (tools/colab_check.py; README: \"The Colab check\").",
        f"# source: {source}",
        f"# date: {date}",
        f"# python: {want}",
        "# Made by `.venv/bin/python tools/colab_check.py update FREEZE --source .. --date .. --python ..`; "
        "do not edit.",
        "# Installed with --no-deps: exactly these, as Colab has them (Colab's IPython, say, runs without jedi).",
        "# What the notebooks, the lab and the test tools import, and what those need as far as Colab has it:",
        *(f"{name}=={version}" for name, version in sorted(colab, key=lambda nv: canonical(nv[0]))),
        NOT_COLAB,
        *(f"{name}=={version}" for name, version in sorted(extra, key=lambda nv: canonical(nv[0]))),
    ]
    PINS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {PINS.name}: {len(colab)} packages at Colab's versions, {len(extra)} test tools Colab lacks")
    return 0


def _test_tools(items: dict[str, dict], freeze: dict[str, tuple[str, str]], python_version: str) -> set[str]:
    """The test tools and what they need that Colab lacks. The walk stops at Colab's own packages: what
    they lack, Colab lacks too (its IPython runs without jedi, say), and the check must see the same."""
    from packaging.requirements import Requirement  # only `update` needs it: run it with .venv's Python

    environment = {"extra": "", "python_version": python_version, "python_full_version": f"{python_version}.0",
                   "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
    found: set[str] = set()
    todo = [canonical(name) for name in TEST_ONLY_ROOTS]
    while todo:
        name = todo.pop()
        if name in found or name in freeze:
            continue
        found.add(name)
        for line in items[name].get("requires_dist") or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(canonical(requirement.name))
    return found


# --------------------------------------------------------------------------- the environment


def find_python(version: str) -> str:
    """The interpreter for Colab's Python version, or CheckError: never a silent skip.

    COLAB_CHECK_PYTHON if set; else the lab's finder (python3.X on PATH, pyenv's newest 3.X, Windows' py)."""
    override = os.environ.get(PYTHON_OVERRIDE)
    if override:
        if not (python_version(override) or "").startswith(version + "."):
            raise CheckError(f"{PYTHON_OVERRIDE}={override} is not a working Python {version}.")
        return override
    found = find_any_python(version)
    if found is None:
        raise CheckError(
            f"Colab runs Python {version} and this machine has no working python{version} (on PATH or in pyenv), so "
            f"the Colab check cannot run: install Python {version} (for example `pyenv install {version}`) or set "
            f"{PYTHON_OVERRIDE} to one."
        )
    return found[0]


def _lab_uv() -> str | None:
    """The uv that requirements.txt pins into the lab's .venv, once `tools/lab.py` has made it."""
    uv = ROOT / ".venv" / ("Scripts/uv.exe" if os.name == "nt" else "bin/uv")
    return str(uv) if uv.is_file() else None


def venv_python(venv: Path = VENV) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def installed(python: Path) -> dict[str, str]:
    """{canonical name: version} of every distribution in the environment of ``python``."""
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    # -I: without the current folder on sys.path, where a checkout's *.egg-info would count as installed.
    done = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, check=True)
    return {canonical(name): version for name, version in json.loads(done.stdout).items()}


def differences(expected: dict[str, str], found: dict[str, str]) -> list[str]:
    """Each way ``found`` differs from ``expected``, one line each, sorted."""
    lines = []
    for name in sorted(expected.keys() | found.keys()):
        if name not in found:
            lines.append(f"{name} {expected[name]} was removed")
        elif name not in expected:
            lines.append(f"{name} {found[name]} was added")
        elif expected[name] != found[name]:
            lines.append(f"{name} {expected[name]} -> {found[name]}")
    return lines


def _digest(pins_text: str, python_version: str) -> str:
    return hashlib.sha256(f"{python_version}\n{pins_text}".encode()).hexdigest()


def prepare(interpreter: str | None = None) -> Path:
    """Make .venv-colab hold exactly colab-pins.txt (and nothing of the lab); rebuild it when it does not."""
    header, pins = read_pins()
    interpreter = interpreter or find_python(header["python"])
    python = venv_python()
    stamp = VENV / ".pins-sha256"
    wanted = _digest(PINS.read_text(encoding="utf-8"), header["python"])
    if python.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        # The last run's lab, and whatever its install added (Colab's IPython lacks jedi, say), go again.
        added = sorted(set(installed(python)) - set(pins))
        if added:
            _pip(python, "uninstall", "--quiet", "--yes", *added, what="uninstalling the last run's additions")
        if not differences(pins, installed(python)):
            return python
        print(f"colab check: {VENV.name} no longer matches {PINS.name}; building it again", flush=True)
    started = time.perf_counter()
    print(f"colab check: building {VENV.name} with {interpreter} from {PINS.name} ({len(pins)} packages)", flush=True)
    # Colab's own pip first (it is the pip that runs the setup cell's install), then Colab's set as it is,
    # not as an installer would complete it (--no-deps). uv when it is there; venv and pip otherwise.
    try:
        installer = build_environment(interpreter, VENV, [[f"pip=={pins['pip']}"],
                                                          ["--no-deps", "--only-binary=:all:", "-r", str(PINS)]],
                                      cwd=ROOT, uv=uv_binary() or _lab_uv())
    except InstallError as exc:
        raise CheckError(f"{VENV.name} could not be built from {PINS.name}: {exc}") from None
    left = differences(pins, installed(python))
    if left:
        raise CheckError(f"{VENV.name} does not match {PINS.name} after installing it ({'; '.join(left)}): "
                         "the pins are not a complete set; run `update` again.")
    stamp.write_text(wanted + "\n")
    print(f"colab check: {VENV.name} built with {installer} in {time.perf_counter() - started:.0f} s", flush=True)
    return python


def _pip(python: Path, *args: str, what: str) -> None:
    done = subprocess.run([str(python), "-m", "pip", *args], cwd=ROOT)
    if done.returncode != 0:
        raise CheckError(f"{what} failed in {VENV.name} (pip's message is above).")


# --------------------------------------------------------------------------- the check


def lab_source(destination: Path) -> Path:
    """A copy of the files git tracks, as a `pip install git+...` from GitHub would see them, but with the
    working tree's content, so uncommitted changes are checked too."""
    done = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if done.returncode != 0:
        raise CheckError("`git ls-files` failed: run the Colab check in a git clone of the lab.")
    for name in filter(None, done.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def install_like_colab(python: Path, source: Path) -> None:
    """What the notebooks' setup cell runs in Colab, with this checkout in place of the GitHub URL."""
    spec = f"{LAB_NAME} @ {source.as_uri()}"
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", spec], cwd=ROOT)
    if done.returncode != 0:
        raise CheckError(f"`pip install {spec}` failed in {VENV.name}, as it would in Colab (pip's message is above).")


def check(interpreter: str | None = None) -> int:
    started = time.perf_counter()
    header, pins = read_pins()
    python = prepare(interpreter)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        raise CheckError("there are no notebooks/*.ipynb to run.")
    print(f"colab check: Colab's stack of {header.get('date', '?')} ({header.get('source', '?')}); "
          f"Python {_version(python)} here", flush=True)
    before = installed(python)
    with tempfile.TemporaryDirectory() as tmp:
        install_like_colab(python, lab_source(Path(tmp)))
    changed = [line for line in differences(before, installed(python)) if not line.startswith(f"{LAB_NAME} ")]
    touched = [line for line in changed if not line.endswith(" was added")]
    if touched:
        print(f"colab check: FAILED: installing the lab changed Colab's packages: {'; '.join(touched)}", flush=True)
        return 1
    if changed:
        print(f"colab check: the lab also installed, beside Colab's packages: {'; '.join(changed)}", flush=True)
    print(f"colab check: installing the lab changed none of the {len(before)} packages", flush=True)
    # No checkout on sys.path, in the tests, kernels and workers alike, so `helpers` is the installed copy,
    # as in Colab (whose kernels start in /content).
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    where = subprocess.run([str(python), "-c", "import helpers; print(helpers.__file__)"],
                           cwd=ROOT, capture_output=True, text=True, env=env)
    if VENV.resolve() not in Path(where.stdout.strip() or "/").resolve().parents:
        said = where.stdout.strip() or where.stderr.strip()
        raise CheckError(f"the notebooks would not import the installed lab ({said}).")
    # The notebooks in one process per core, as the README's test command runs its files (tools/lab.py): one
    # at a time left a core idle for half the check; side by side here, 194.1 s one at a time, 166.5 s two at a
    # time (2026-12-07, docs/speed.md).
    parallel = parallel_options([])
    print(f"colab check: running {len(notebooks)} notebooks under nbval and tests/test_panel.py"
          f"{f' ({parallel[1]} at a time)' if parallel else ''}", flush=True)
    tests = [str(python), "-m", "pytest", *parallel, "notebooks", "tests/test_panel.py"]
    code = subprocess.run(tests, cwd=ROOT, env=env).returncode
    print(f"colab check: {'passed' if code == 0 else 'FAILED'} in {time.perf_counter() - started:.0f} s", flush=True)
    return code


def _version(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True).stdout.strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/colab_check.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("check", help="the whole check (the default)")
    commands.add_parser("prepare", help="only build .venv-colab")
    upd = commands.add_parser("update", help="rewrite colab-pins.txt from Colab's pip freeze")
    upd.add_argument("freeze", type=Path, help="Colab's pip-freeze.txt")
    upd.add_argument("--source", required=True, help="where the freeze came from (repository, file, commit)")
    upd.add_argument("--date", required=True, help="the freeze's date, YYYY-MM-DD")
    upd.add_argument("--python", required=True, help="Colab's Python, major.minor (its os-info.txt says)")
    args = parser.parse_args(argv)
    try:
        if args.command == "update":
            return update(args.freeze, args.source, args.date, args.python)
        if args.command == "prepare":
            prepare()
            return 0
        return check()
    except CheckError as exc:
        print(f"colab check: cannot run: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
