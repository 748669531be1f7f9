"""Linux, macOS and Windows: the pins resolve everywhere, and the lab's own code holds up off Linux.

What cannot run on this Linux machine is tested with the platform faked, and only where faking is
honest: parsing what another OS prints, choosing a path or a flag by OS. Not verified here, and
said so in docs/install.md: a real install, notebook run, worker process or Ctrl+C on Windows or macOS.

The resolution test asks uv (pinned in requirements.txt, and what builds the other stacks), for every
platform and claimed Python, which wheels it would install, without installing anything: ``uv pip
compile --only-binary :all:`` evaluates the environment markers for the target, in requirements.txt and in
every dependency, and takes only wheels whose platform and Python tags the target accepts. pip, asked the
same with ``--platform``, evaluates markers for the machine it runs on, so the test once had to walk the
dependencies itself and resolve again; it cost 91 s of CPU here for the nine resolutions, uv about 1 s each.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers.machines import cpu
from helpers.running import processes
from tools import colab_check, lab

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- the targets

# Each platform docs/install.md claims: the environment markers seen there, and uv's name for it. Linux: glibc
# 2.28 or newer (uv takes manylinux_2_28 and every older tag); macOS 12 or newer (uv assumes the oldest macOS
# Apple still supports unless MACOSX_DEPLOYMENT_TARGET says otherwise).
TARGETS = {
    ("linux", "x86_64"): ({"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
                          "x86_64-manylinux_2_28"),
    ("darwin", "arm64"): ({"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
                          "aarch64-apple-darwin"),
    ("win32", "AMD64"): ({"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
                         "x86_64-pc-windows-msvc"),
}
OLDEST_MACOS = "12.0"
# tensorflow-cpu has no macOS wheel; on macOS arm64 the plain tensorflow wheel is the CPU build.
TENSORFLOW = {("linux", "x86_64"): "tensorflow-cpu", ("darwin", "arm64"): "tensorflow",
              ("win32", "AMD64"): "tensorflow-cpu"}


def marker_environment(target: tuple[str, str], python: tuple[int, int]) -> dict[str, str]:
    version = f"{python[0]}.{python[1]}"
    return {
        **TARGETS[target][0],
        "platform_machine": target[1],
        "python_version": version,
        "python_full_version": f"{version}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "implementation_version": f"{version}.0",
        "platform_release": "",
        "platform_version": "",
    }


def requirements() -> list[Requirement]:
    lines = (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [Requirement(line.split("#", 1)[0]) for line in lines if line.split("#", 1)[0].strip()]


def requirements_for(environment: dict[str, str]) -> list[str]:
    """requirements.txt as the target sees it: markers evaluated, then dropped."""
    return [f"{r.name}{r.specifier}" for r in requirements() if r.marker is None or r.marker.evaluate(environment)]


def test_every_requirement_is_pinned_exactly() -> None:
    for requirement in requirements():
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{requirement} is not pinned with =="


@pytest.mark.parametrize("target", list(TARGETS), ids=lambda t: f"{t[0]}-{t[1]}")
def test_each_platform_gets_one_tensorflow_that_has_wheels_there(target: tuple[str, str]) -> None:
    """tensorflow-cpu has no macOS wheel; on macOS arm64 the plain tensorflow wheel is the CPU build."""
    chosen = [line for line in requirements_for(marker_environment(target, lab.PYTHONS[-1]))
              if canonicalize_name(Requirement(line).name) in ("tensorflow", "tensorflow-cpu")]
    assert [canonicalize_name(Requirement(line).name) for line in chosen] == [TENSORFLOW[target]]
    versions = {str(r.specifier) for r in requirements() if r.name in ("tensorflow", "tensorflow-cpu")}
    assert len(versions) == 1, f"the TensorFlow pins differ between platforms: {versions}"


def test_targets_are_the_platforms_the_bootstrap_accepts() -> None:
    assert set(TARGETS) == set(lab.PLATFORMS)


# ----------------------------------------------------------------------------- resolution


def uv_settings() -> dict[str, str]:
    """uv's environment for a resolution: the package index a learner's pip uses (uv's default, not this
    machine's pip settings: its local mirrors made the nine resolutions take a minute), the system's
    certificates, macOS's oldest claimed version, and no download of a Python the target names: the resolution
    needs none, and uv tried one for each Python this machine lacks, 7 s of retries each."""
    from helpers.stacks.installers import uv_environment

    return {**uv_environment(pip={}), "MACOSX_DEPLOYMENT_TARGET": OLDEST_MACOS, "UV_PYTHON_DOWNLOADS": "never"}


def uv() -> str:
    from helpers.stacks.installers import uv_binary

    found = uv_binary()
    assert found, "uv is missing: it is pinned in requirements.txt; run `python3 tools/lab.py install`"
    return found


def uv_compile(uv: str, requirements: Path, platform_name: str, python: str) -> subprocess.CompletedProcess[str]:
    """``uv pip compile`` of ``requirements`` for a uv platform name and Python version, wheels only."""
    return subprocess.run([uv, "pip", "compile", str(requirements), "--quiet", "--no-header", "--no-annotate",
                           "--only-binary", ":all:", "--python-platform", platform_name, "--python-version", python],
                          capture_output=True, text=True, timeout=600, env=uv_settings(), cwd=REPO)


def resolve(uv: str, target: tuple[str, str], python: tuple[int, int]) -> dict[str, str]:
    """uv's resolution of requirements.txt for the target, wheels only: {canonical name: version}."""
    done = uv_compile(uv, REPO / "requirements.txt", TARGETS[target][1], f"{python[0]}.{python[1]}")
    if done.returncode != 0:
        raise AssertionError(done.stderr.strip()[-2000:])
    picked = {}
    for line in done.stdout.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            picked[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return picked


@pytest.mark.network
def test_pins_resolve_with_wheels_for_every_platform_and_python(record_property) -> None:
    """uv picks a wheel for every package, on each platform and each claimed Python, and the pinned
    versions are the ones picked. Concurrent: uv mostly waits on the package index."""
    jobs = [(target, python) for target in TARGETS for python in lab.PYTHONS]
    binary = uv()  # once, before the threads: uv's finder reads sysconfig, which is not thread-safe on first use
    started = time.perf_counter()

    def one(job: tuple[tuple[str, str], tuple[int, int]]) -> tuple[str, dict[str, str] | str]:
        target, python = job
        label = f"{lab.PLATFORMS[target]}, Python {python[0]}.{python[1]}"
        try:
            return label, resolve(binary, target, python)
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            return label, str(exc)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        outcomes = dict(pool.map(one, jobs))
    seconds = time.perf_counter() - started
    record_property("resolution_seconds", round(seconds, 1))
    print(f"{len(jobs)} resolutions in {seconds:.1f} s")
    failures = [f"{label}: {outcome}" for label, outcome in outcomes.items() if isinstance(outcome, str)]
    assert not failures, "\n".join(failures)
    for (target, python), (label, picked) in zip(jobs, outcomes.items(), strict=True):
        for line in requirements_for(marker_environment(target, python)):
            requirement = Requirement(line)
            version = picked.get(canonicalize_name(requirement.name))
            assert version in requirement.specifier, f"{label}: {requirement} not picked ({version})"
        assert TENSORFLOW[target] in picked, f"{label}: no {TENSORFLOW[target]}"


@pytest.mark.network
def test_a_pin_without_a_wheel_for_the_target_fails_the_resolution(tmp_path: Path) -> None:
    """What the test above relies on: uv refuses a pin that has no wheel for the target's platform
    (tensorflow-cpu has none for macOS) or Python (none for 3.14)."""
    pin = tmp_path / "requirements.txt"
    pin.write_text("tensorflow-cpu==2.21.0\n", encoding="utf-8")
    for platform_name, python in (("aarch64-apple-darwin", "3.13"), ("x86_64-manylinux_2_28", "3.14")):
        done = uv_compile(uv(), pin, platform_name, python)
        assert done.returncode != 0, f"uv found a tensorflow-cpu 2.21.0 wheel for {platform_name}, Python {python}"
        assert "tensorflow-cpu==2.21.0 has no wheels with a matching" in done.stderr, done.stderr[-2000:]


# ----------------------------------------------------------------------------- the README, docs, CI and make

README = (REPO / "README.md").read_text(encoding="utf-8")  # the two commands
INSTALL = (REPO / "docs" / "install.md").read_text(encoding="utf-8")  # the platforms and Pythons, in detail


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    # The README's test command (its install a step of its own first), then the Colab check, each failing CI.
    install = re.search(r"^python3 tools/lab\.py install \|\| status=\$\?$", ci, re.MULTILINE)
    tests = re.search(r"^ *python3 tools/lab\.py test \|\| status=\$\?$", ci, re.MULTILINE)
    colab = re.search(r"^python3 tools/colab_check\.py \|\| colab_status=\$\?$", ci, re.MULTILINE)
    assert install and tests and colab and install.start() < tests.start() < colab.start()
    assert 'if [ "$status" -ne 0 ] || [ "$colab_status" -ne 0 ]; then\n  exit 1' in ci
    for command in ("python3 tools/lab.py", "python3 tools/lab.py test", "py tools/lab.py", "py tools/lab.py test"):
        assert re.search(rf"^{re.escape(command)}(\s|$)", README, re.MULTILINE), f"README lacks `{command}`"
    make = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test:.*\n\t\$\(PYTHON\) tools/lab\.py test$", make, re.MULTILINE)
    assert re.search(r"^lab:.*\n\t\$\(PYTHON\) tools/lab\.py$", make, re.MULTILINE)


def test_readme_and_install_doc_claim_the_pythons_and_platforms_that_resolve() -> None:
    for text, name in ((README, "README.md"), (INSTALL, "docs/install.md")):
        assert lab.python_range() in text, f"{name} lacks {lab.python_range()!r}"
        assert "3.10+" not in text, name
        for system in ("Linux", "macOS", "Windows", "Apple silicon"):
            assert system in text, f"{name} lacks {system}"
    assert "glibc 2.28" in INSTALL and "macOS 12" in INSTALL  # the floors of TARGETS above


# ----------------------------------------------------------------------------- the bootstrap


@pytest.mark.parametrize("version", [(3, 10, 13), (3, 14, 0), (2, 7, 18)])
def test_bootstrap_refuses_an_unsupported_python_in_one_sentence(version: tuple[int, int, int]) -> None:
    with pytest.raises(lab.LabError) as caught:
        lab.check_python(version)
    message = str(caught.value)
    assert message.count(". ") == 0 and message.endswith(".")
    assert ".".join(map(str, version)) in message and lab.python_range() in message


def test_bootstrap_accepts_the_python_running_these_tests() -> None:
    """The tests run in the environment the bootstrap made, so it must accept this Python; the claimed
    range itself is held to the pins by the resolution test above."""
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


# ----------------------------------------------------------------------------- the fingerprint off Linux

# What macOS's `sysctl machdep.cpu hw.optional` prints, in its format (names from Apple's "Determining
# instruction set characteristics"); written for this test, not captured from a Mac. An unknown name
# costs only its own line, and sysctl then exits 1.
APPLE_SILICON_SYSCTL = """\
machdep.cpu.cores_per_package: 12
machdep.cpu.core_count: 12
machdep.cpu.logical_per_package: 12
machdep.cpu.thread_count: 12
machdep.cpu.brand_string: Apple M3 Pro
hw.optional.arm.FEAT_BF16: 1
hw.optional.arm.FEAT_SME: 0
hw.optional.floatingpoint: 1
hw.optional.AdvSIMD: 1
hw.optional.neon: 1
hw.optional.armv8_crc32: 1
"""
INTEL_MAC_SYSCTL = """\
machdep.cpu.brand_string: Intel(R) Core(TM) i9-9880H CPU @ 2.30GHz
machdep.cpu.features: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR CMOV SSE SSE2 SSE3 FMA SSE4.1 SSE4.2 AVX1.0 F16C
machdep.cpu.leaf7_features: RDWRFSGS TSC_THREAD_OFFSET SGX BMI1 AVX2 SMEP BMI2 ERMS INVPCID FPU_CSDS
hw.optional.sse4_1: 1
hw.optional.avx1_0: 1
hw.optional.avx2_0: 1
hw.optional.avx512f: 0
"""


@pytest.fixture
def fresh_cpu_info(monkeypatch: pytest.MonkeyPatch):
    cpu.cpu_info.cache_clear()
    monkeypatch.setattr(cpu, "_linux_cpu", lambda: None)  # no /proc/cpuinfo
    yield cpu.cpu_info
    cpu.cpu_info.cache_clear()


def _fake_sysctl(monkeypatch: pytest.MonkeyPatch, output: str) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, stdout=output, stderr="sysctl: unknown oid")

    monkeypatch.setattr(cpu.sys, "platform", "darwin")
    monkeypatch.setattr(cpu.subprocess, "run", run)
    return calls


def test_cpu_on_apple_silicon_from_sysctl(fresh_cpu_info, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_sysctl(monkeypatch, APPLE_SILICON_SYSCTL)
    info = fresh_cpu_info()
    assert calls == [["sysctl", "machdep.cpu", "hw.optional"]]
    assert info["model"] == "Apple M3 Pro"
    assert info["vector_flags"] == ["asimd"] and info["flags_from"] == "sysctl"


def test_cpu_on_an_intel_mac_in_linux_spelling(fresh_cpu_info, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_sysctl(monkeypatch, INTEL_MAC_SYSCTL)
    info = fresh_cpu_info()
    assert info["model"].startswith("Intel(R) Core(TM) i9-9880H")
    assert info["vector_flags"] == ["sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c"]


def test_cpu_on_windows_from_py_cpuinfo(fresh_cpu_info, monkeypatch: pytest.MonkeyPatch) -> None:
    import cpuinfo

    monkeypatch.setattr(cpu.sys, "platform", "win32")
    monkeypatch.setattr(cpuinfo, "get_cpu_info", lambda: {
        "brand_raw": "Intel(R) Core(TM) i7-1185G7 @ 3.00GHz",
        "flags": ["avx", "avx2", "avx512bw", "avx512f", "avx512vl", "avx512vnni", "f16c", "fma", "sse4_1", "sse4_2"],
    })
    info = fresh_cpu_info()
    assert info["model"] == "Intel(R) Core(TM) i7-1185G7 @ 3.00GHz" and info["flags_from"] == "py-cpuinfo"
    assert info["vector_flags"] == ["sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
                                    "avx512f", "avx512bw", "avx512vl", "avx512_vnni"]


def test_a_failing_cpu_probe_does_not_stop_a_run(fresh_cpu_info, monkeypatch: pytest.MonkeyPatch) -> None:
    import cpuinfo

    def broken() -> dict:
        raise RuntimeError("cpuid is not allowed here")

    monkeypatch.setattr(cpu.sys, "platform", "win32")
    monkeypatch.setattr(cpuinfo, "get_cpu_info", broken)
    info = fresh_cpu_info()
    assert info["vector_flags"] == [] and info["error"] == "cpuid is not allowed here"


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists() or platform.machine() != "x86_64",
                    reason="compares with Linux's /proc/cpuinfo on x86")
def test_windows_cpuid_probe_agrees_with_proc_cpuinfo_on_this_cpu() -> None:
    """The probe py-cpuinfo uses on Windows, run for real on this CPU: after spelling, it reports the same
    vector flags as /proc/cpuinfo, except the newer ones it does not know (hence ``flags_from``)."""
    from cpuinfo import cpuinfo as probe

    cpu.cpu_info.cache_clear()
    try:
        linux = set(cpu.cpu_info()["vector_flags"])
    finally:
        cpu.cpu_info.cache_clear()
    reported = probe._get_cpu_info_from_cpuid().get("flags", [])
    cpuid = cpu.normalize_flags(reported) & set(cpu.VECTOR_FLAGS)
    assert "avx" in cpuid and cpuid <= linux
    assert linux - cpuid <= {"avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8"}


# ----------------------------------------------------------------------------- cores


def test_available_cores_without_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # as on macOS and Windows before 3.13
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert processes.available_cores() == 8
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert processes.available_cores() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert processes.available_cores() == 2
    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)
    assert processes.available_cores() == 3


# ----------------------------------------------------------------------------- the Colab check


def test_colab_pins_hold_colabs_versions() -> None:
    header, pins = colab_check.read_pins()
    # Shapes, not versions: the versions are Colab's and change with every honest `update`.
    assert re.fullmatch(r"3\.\d+", header["python"]) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", header["date"])
    assert "googlecolab/backend-info" in header["source"]
    for name in ("tensorflow", "keras", "numpy", "pandas", "matplotlib", "ipywidgets", "ipykernel", "jupyter-client"):
        assert re.fullmatch(r"\d+(\.\d+)+", pins.get(name, "")), f"colab-pins.txt lacks Colab's {name}"
    for name in colab_check.lab_dependencies():
        assert colab_check.canonical(name) in pins, f"the lab needs {name}; the Colab pins lack it"
    for name in colab_check.TEST_ONLY_ROOTS:
        assert colab_check.canonical(name) in pins


def test_colab_differences_lists_every_change() -> None:
    before = {"numpy": "2.1.3", "pandas": "2.2.3", "tqdm": "4.67.3"}
    after = {"numpy": "2.4.6", "tqdm": "4.67.3", "keras-repro-lab": "0.1.0"}
    assert colab_check.differences(before, after) == [
        "keras-repro-lab 0.1.0 was added", "numpy 2.1.3 -> 2.4.6", "pandas 2.2.3 was removed"]
    assert colab_check.differences(before, dict(before)) == []


def test_colab_check_fails_without_colabs_python(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.delenv(colab_check.PYTHON_OVERRIDE, raising=False)
    assert colab_check.main(["prepare"]) == 2
    err = capsys.readouterr().err
    assert "Colab runs Python 3.13" in err and "cannot run" in err and len(err.strip().splitlines()) == 1
