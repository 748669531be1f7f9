"""tools/lab.py, the bootstrap: the one script a learner or a contributor runs with nothing installed but Python.

It refuses, in one sentence, a Python, a machine or a Windows set-up the lab cannot run on; installs .venv once
and again only when its inputs change (uv first, pip when uv fails); and runs JupyterLab, the tests or the quick
loop, passing Ctrl+C and the exit code through. Installs are faked here, and what the checks would read from
Windows is passed in; the real install is what .ci/run does first (``tools/lab.py install``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tools import lab

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("version", [(3, 10, 13), (3, 14, 0), (2, 7, 18)])
def test_bootstrap_refuses_an_unsupported_python_in_one_sentence(version: tuple[int, int, int]) -> None:
    with pytest.raises(lab.LabError) as caught:
        lab.check_python(version)
    message = str(caught.value)
    assert message.count(". ") == 0 and message.endswith(".")
    assert ".".join(map(str, version)) in message and lab.python_range() in message


def test_bootstrap_accepts_the_python_running_these_tests() -> None:
    """The tests run in the environment the bootstrap made, so it must accept this Python; the claimed
    range itself is held to the pins by test_platforms.py's resolution test."""
    lab.check_python(sys.version_info)


def test_bootstrap_refuses_intel_macs_and_rosetta_and_other_machines() -> None:
    for system, machine in lab.PLATFORMS:
        lab.check_platform(system, machine)
    with pytest.raises(lab.LabError, match="Apple silicon"):
        lab.check_platform("darwin", "x86_64")
    with pytest.raises(lab.LabError, match="aarch64"):
        lab.check_platform("linux", "aarch64")


def test_venv_python_path_on_windows_and_posix() -> None:
    assert lab.venv_python(Path("v"), "nt") == Path("v/Scripts/python.exe")
    assert lab.venv_python(Path("v"), "posix") == Path("v/bin/python")


def test_jupyter_allow_root_only_for_root_on_posix(monkeypatch: pytest.MonkeyPatch) -> None:
    python = Path("py")
    monkeypatch.setattr(os, "geteuid", lambda: 0, raising=False)
    assert lab.jupyter_command(python)[-1] == "--allow-root"
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    assert "--allow-root" not in lab.jupyter_command(python)
    monkeypatch.delattr(os, "geteuid", raising=False)  # as on Windows
    assert lab.jupyter_command(python) == ["py", "-m", "jupyter", "lab", str(REPO / "notebooks")]


def test_windows_runtime_check_names_the_missing_dll() -> None:
    def load(name: str) -> None:
        if name == "msvcp140_1.dll":
            raise OSError(126, "The specified module could not be found")

    with pytest.raises(lab.LabError, match=r"msvcp140_1\.dll is missing.*winget install"):
        lab.check_windows_runtime(load)
    lab.check_windows_runtime(lambda name: None)


def test_windows_path_check_for_tensorflows_long_file_names() -> None:
    deep = Path("C:/Users/someone.with.a.long.name/Documents/GitHub/courses/2026/keras-repro-lab/.venv")
    with pytest.raises(lab.LabError, match="too deep"):
        lab.check_windows_path(deep, long_paths=lambda: False)
    lab.check_windows_path(deep, long_paths=lambda: True)
    lab.check_windows_path(Path("C:/lab/.venv"), long_paths=lambda: False)


class FakeInstall:
    """Stands in for subprocess.run and venv creation: records pip commands, answers version probes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, venv_version: str | None = None):
        self.commands: list[list[str]] = []
        self.created = 0
        self.venv_version = venv_version or f"{sys.version_info[0]}.{sys.version_info[1]}"
        self.pip_fails = False
        self.uv_commands: list[list[str]] = []
        self.uv_fails = False
        self.uv_env: dict[str, str] = {}
        monkeypatch.setattr(lab, "_create_venv", self.create)

    def create(self, venv_dir: Path) -> None:
        self.created += 1
        python = lab.venv_python(venv_dir)
        python.parent.mkdir(parents=True, exist_ok=True)
        python.write_text("")

    def __call__(self, command: list[str], **kwargs) -> subprocess.CompletedProcess:
        if command[1] == "-c":
            return subprocess.CompletedProcess(command, 0, stdout=self.venv_version + "\n", stderr="")
        if command[1] == "pip":  # uv pip install
            self.uv_commands.append(command[3:])
            self.uv_env = kwargs.get("env") or {}
            return subprocess.CompletedProcess(command, 1 if self.uv_fails else 0)
        self.commands.append(command[4:])  # after `python -m pip install`
        return subprocess.CompletedProcess(command, 1 if self.pip_fails else 0)


@pytest.fixture
def lab_root(tmp_path: Path) -> Path:
    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return tmp_path


def _pip_args(fake: FakeInstall) -> list[list[str]]:
    return [[a for a in command if a != "--quiet"] for command in fake.commands]


def test_bootstrap_installs_once_then_only_when_its_inputs_change(lab_root: Path, monkeypatch) -> None:
    fake = FakeInstall(monkeypatch)
    lab.ensure_environment(lab_root, run=fake)
    assert fake.created == 1
    assert _pip_args(fake) == [["--upgrade", "pip"], ["-r", "requirements.txt"], ["--no-deps", "-e", "."]]
    fake.commands.clear()
    lab.ensure_environment(lab_root, run=fake)
    assert fake.commands == [] and fake.created == 1
    (lab_root / "requirements.txt").write_text("numpy==2.4.7\n")
    lab.ensure_environment(lab_root, run=fake)
    assert len(fake.commands) == 3 and fake.created == 1
    fake.commands.clear()
    (lab_root / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    lab.ensure_environment(lab_root, run=fake)
    assert len(fake.commands) == 3 and fake.created == 1


def test_bootstrap_installs_the_requirements_with_uv_and_with_pip_when_uv_fails(lab_root: Path, monkeypatch) -> None:
    (lab_root / "requirements.txt").write_text("numpy==2.4.6\nuv==0.13.8  # installs the rest\n")
    fake = FakeInstall(monkeypatch)
    lab.ensure_environment(lab_root, run=fake)
    # pip installs uv as pinned, uv the requirements (compiled, as pip would), pip the lab itself (editable).
    assert _pip_args(fake) == [["uv==0.13.8"], ["--no-deps", "-e", "."]]
    (uv_args,) = [[a for a in command if a != "--quiet"] for command in fake.uv_commands]
    assert uv_args[0] == "--compile-bytecode" and uv_args[-2:] == ["-r", "requirements.txt"]
    assert fake.uv_env["UV_SYSTEM_CERTS"] == "1"  # with the system's certificates, as pip has them
    (lab_root / "requirements.txt").write_text("numpy==2.4.7\nuv==0.13.8\n")
    fake.commands.clear()
    fake.uv_fails = True
    lab.ensure_environment(lab_root, run=fake)
    assert _pip_args(fake) == [["uv==0.13.8"], ["--upgrade", "pip"], ["-r", "requirements.txt"],
                               ["--no-deps", "-e", "."]]


def test_bootstrap_recreates_a_venv_of_another_python(lab_root: Path, monkeypatch) -> None:
    fake = FakeInstall(monkeypatch)
    lab.ensure_environment(lab_root, run=fake)
    fake.venv_version = "3.9"
    lab.ensure_environment(lab_root, run=fake)
    assert fake.created == 2


def test_bootstrap_says_when_pip_fails_and_tries_again_next_time(lab_root: Path, monkeypatch) -> None:
    fake = FakeInstall(monkeypatch)
    fake.pip_fails = True
    with pytest.raises(lab.LabError, match=r"^Installing pip into \.venv failed"):
        lab.ensure_environment(lab_root, run=fake)
    fake.pip_fails = False
    fake.commands.clear()
    lab.ensure_environment(lab_root, run=fake)
    assert len(fake.commands) == 3  # no stamp was written, so it installs again


def test_bootstrap_explains_a_python_without_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's and Ubuntu's Python lacks ensurepip until python3-venv is installed."""
    def create(self, env_dir) -> None:
        Path(env_dir).mkdir()
        raise subprocess.CalledProcessError(1, ["python", "-m", "ensurepip", "--upgrade", "--default-pip"])

    monkeypatch.setattr(lab.venv.EnvBuilder, "create", create)
    monkeypatch.setattr(lab.sys, "platform", "linux")
    with pytest.raises(lab.LabError, match=r"ensurepip.*sudo apt install python3-venv") as caught:
        lab._create_venv(tmp_path / ".venv")
    assert str(caught.value).count(".)") == 0 and str(caught.value).endswith(".")
    assert not (tmp_path / ".venv").exists()  # no half-made environment left to trip the next run


def test_bootstrap_command_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert lab.main(["serve"]) == 2
    assert lab.main(["install", "--now"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("tools/lab.py: ") for line in err)


def test_the_quick_loop_leaves_out_every_costly_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new marker for something costly (a browser, another stack, the network) must be left out of
    the contributor's loop too, or that loop quietly grows."""
    import tomllib

    pytest_options = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]
    markers = {line.split(":", 1)[0] for line in pytest_options["ini_options"]["markers"]}
    assert set(re.findall(r"not (\w+)", lab.QUICK)) == markers
    ran: list[list[str]] = []
    monkeypatch.setattr(lab, "ensure_environment", lambda: Path("py"))
    monkeypatch.setattr(lab, "run_child", lambda command: ran.append(list(command)) or 0)
    monkeypatch.setattr(lab, "available_cores", lambda: 1)
    assert lab.main(["quick", "-x"]) == 0
    assert ran == [["py", "-m", "pytest", "tests", "-m", lab.QUICK, "-q", "-x"]]


@pytest.mark.parametrize(("args", "cores", "options"), [
    ([], 1, []),  # one core: one process, no xdist workers to start
    ([], 2, ["-n", "2", "--dist", "loadfile"]),
    (["-x"], 16, ["-n", "4", "--dist", "loadfile"]),  # capped: each test process starts TensorFlow workers too
    (["-n", "0"], 2, []),  # the contributor's own choice wins
    (["-n3"], 2, []),
    (["--dist", "load"], 2, []),
    (["-p", "no:xdist"], 2, []),
])
def test_the_tests_run_in_one_process_per_core_unless_told(args: list, cores: int, options: list) -> None:
    assert lab.parallel_options(args, cores) == options


def test_the_test_command_passes_the_parallel_options_before_the_contributors(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(lab, "ensure_environment", lambda: Path("py"))
    monkeypatch.setattr(lab, "run_child", lambda command: ran.append(list(command)) or 0)
    monkeypatch.setattr(lab, "available_cores", lambda: 2)
    assert lab.main(["test", "-k", "card"]) == 0
    assert ran == [["py", "-m", "pytest", "-n", "2", "--dist", "loadfile", "-k", "card"]]


def test_bootstrap_passes_the_childs_exit_code_through() -> None:
    assert lab.run_child([sys.executable, "-c", "raise SystemExit(3)"]) == 3


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="POSIX signals; Windows' console Ctrl+C is not verified")
def test_bootstrap_waits_for_its_child_through_ctrl_c(ctrl_c_as_in_a_terminal: None) -> None:
    """Ctrl+C reaches both; the child decides (JupyterLab asks first), the bootstrap keeps waiting.
    Here only the bootstrap gets the SIGINT, and must still return the child's own exit code."""
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        assert lab.run_child([sys.executable, "-c", "import time; time.sleep(2); raise SystemExit(5)"]) == 5
    finally:
        timer.cancel()
