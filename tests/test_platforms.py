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
import subprocess
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
