"""Other TensorFlow stacks: one extra stack built and run for real, and the logic around it.

The real stack is TensorFlow 2.15.1 (Keras 2) with this Python; it is built once into the
user's cache folder (about 1.2 GB; with uv about 10 s from PyPI, a minute or more with pip) and
kept there, so a second run of the suite -- and the notebook 03b, which runs after the tests --
find it built. Everything else here uses fakes made in ``tmp_path`` and never downloads.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.core.config import ConfigError, RunConfig
from helpers.stacks import environments as E
from helpers.stacks import installers as I
from helpers.stacks import pythons as P
from helpers.stacks import report as S
from tests.conftest import run_cli

EXTRA = "2.15.1"  # the last TensorFlow with Keras 2; it has wheels for Python 3.9 to 3.11
needs_python_for_extra = pytest.mark.skipif(
    not E._fits(f"{sys.version_info.major}.{sys.version_info.minor}", E.PYTHON_RANGES["2.15"])
    and P.find_python("3.11") is None,
    reason="TensorFlow 2.15.1 needs Python 3.9 to 3.11, and none is installed here",
)


def fake_python(folder: Path, version: str) -> str:
    """An executable that answers the version question like a Python of ``version`` would."""
    path = folder / f"fake-python-{version}"
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture(scope="module")
def cli_report() -> dict:
    """`python -m helpers stacks --tensorflow 2.15.1 --json`: builds the stack the first time."""
    done = run_cli("stacks", "--tensorflow", EXTRA, "--json", timeout=1800)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.stacks
@pytest.mark.slow
@needs_python_for_extra
def test_this_kernels_stack_comes_first_and_matches_the_labs_own_run(cli_report: dict) -> None:
    from importlib.metadata import version

    from helpers.running.runner import run_configs

    own = cli_report["stacks"][0]
    assert own["own"] is True
    assert own["tensorflow"] == version("tensorflow-cpu") or own["tensorflow"] == version("tensorflow")
    assert own["keras"] == version("keras") and own["python"] == ".".join(map(str, sys.version_info[:3]))
    (lab,) = run_configs([RunConfig(seed=42)], progress=False)
    # The article's script as written and the lab's seed-42 run: the same data, start and end, bit for bit.
    assert own["data_sha256"] == lab.data_sha256
    assert own["initial_weights_sha256"] == lab.initial_weights_sha256
    assert own["weights_sha256"] == lab.weights_sha256
    assert own["test_accuracy"] == lab.test_accuracy and own["test_loss"] == lab.test_loss


@pytest.mark.stacks
@pytest.mark.slow
@needs_python_for_extra
def test_tensorflow_2_15_keeps_the_data_and_start_but_trains_other_weights(cli_report: dict) -> None:
    own, old = cli_report["stacks"]
    for key in ("tensorflow", "keras", "python", "test_accuracy", "test_loss", "weights_sha256", "data_sha256",
                "initial_weights_sha256"):
        assert old[key] is not None, key
    assert old["tensorflow"] == EXTRA and old["keras"].startswith("2.")
    assert old["error"] is None and old["environment"].startswith(str(E.stacks_folder()))
    # Same seeds, same NumPy draws and the same initial weights...
    assert old["data_values_sha256"] == own["data_values_sha256"]
    assert old["initial_weights_sha256"] == own["initial_weights_sha256"]
    # ...but Keras 2 stores the one-hot labels as float32 (Keras 3: float64), and training differs.
    assert old["data_sha256"] != own["data_sha256"] and "float32" in old["data_dtypes"]
    assert old["weights_sha256"] != own["weights_sha256"]
    (step,) = cli_report["steps"]
    assert step["first_changed_stage"] == "training"
    assert "data: same values, stored differently" in step["changes"][0]


@pytest.mark.stacks
@pytest.mark.slow
@needs_python_for_extra
def test_a_built_stack_is_cached(cli_report: dict) -> None:
    stack = E.Stack(EXTRA)
    cached = E.cached(stack)
    assert cached is not None and cached.cached and cached.build_seconds is not None
    assert cached.disk_bytes and cached.disk_bytes > 200e6
    # Where the stack's own Python looks for tensorflow/__init__.py's bytecode (its folder layout and tag, any OS).
    where = subprocess.run([str(I.env_python(cached.environment or "")), "-c",
                            "import importlib.util, os, sysconfig; print(importlib.util.cache_from_source("
                            "os.path.join(sysconfig.get_paths()['purelib'], 'tensorflow', '__init__.py')))"],
                           capture_output=True, text=True, check=True, env=E.clean_environment())
    assert Path(where.stdout.strip()).is_file()  # compiled once, at build time
    report = S.run_stacks([stack], build_missing=False, include_own=False)
    (again,) = report.results
    assert again.cached and again.weights_sha256 == cli_report["stacks"][1]["weights_sha256"]


@pytest.mark.slow
def test_a_stack_that_cannot_be_installed_says_which_python_and_loses_nothing(tmp_path: Path) -> None:
    done = run_cli("stacks", "--tensorflow", EXTRA, "--python", fake_python(tmp_path, "3.13.0"), timeout=600)
    assert done.returncode == 2
    assert "needs Python 3.9 to 3.11, not 3.13.0" in done.stderr and "--python" in done.stderr
    assert done.stderr.count("\n") == 1
    assert "this kernel" in done.stdout and "0.11" in done.stdout  # this kernel's stack still ran
    report = S.run_stacks([E.Stack(EXTRA, python=fake_python(tmp_path, "3.12.1"))], build_missing=False,
                          include_own=False)
    assert "needs Python 3.9 to 3.11, not 3.12.1" in (report.results[0].error or "")  # not "not built yet"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["stacks", "--tensorflow", "banana"], "a TensorFlow version looks like 2.15.1"),
        (["stacks", "--tensorflow", "2.15.1", "2.20.0", "--keras", "1", "2", "3"], "one per TensorFlow version"),
        (["stacks", "--tensorflow", "2.20.0", "--keras", "three"], "a Keras version looks like"),
        (["stacks"], "the following arguments are required: --tensorflow"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert fragment in done.stderr and done.stderr.count("\n") == 1


def test_stacks_from_pairs_keras_versions_with_tensorflow_versions() -> None:
    assert E.stacks_from(["2.15.1", "2.20.0"]) == [E.Stack("2.15.1"), E.Stack("2.20.0")]
    assert E.stacks_from(["2.15.1", "2.20.0"], ["auto", "3.13.2"], "3.11") == [
        E.Stack("2.15.1", None, "3.11"), E.Stack("2.20.0", "3.13.2", "3.11")]
    assert [s.keras for s in E.stacks_from(["2.19.0", "2.20.0"], ["3.10.0"])] == ["3.10.0", "3.10.0"]
    with pytest.raises(ConfigError, match="at least one TensorFlow version"):
        E.stacks_from([])
    assert E.Stack("2.20.0", "3.13.2").requirements()[-1] == "keras==3.13.2"


def test_python_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(E.StackError, match=r"needs Python 3\.9 to 3\.11, not 3\.12\.4; install one"):
        E.choose_python("2.15.1", fake_python(tmp_path, "3.12.4"))
    assert E.choose_python("2.15.1", fake_python(tmp_path, "3.10.2")) == (str(tmp_path / "fake-python-3.10.2"),
                                                                          "3.10.2")
    with pytest.raises(E.StackError, match="is not a working Python interpreter"):
        E.choose_python("2.20.0", str(tmp_path / "missing"))
    # A version this lab has no table for is tried with this Python; the installer decides.
    assert E.choose_python("9.1.0", None) == (sys.executable, E.platform.python_version())
    # No fitting Python anywhere: one sentence that says which one is needed.
    monkeypatch.setattr(E, "find_python", lambda minor: None)
    monkeypatch.setattr(E.platform, "python_version", lambda: "3.13.0")
    with pytest.raises(E.StackError, match=r"needs Python 3\.9 to 3\.11, not 3\.13\.0"):
        E.choose_python("2.15.1", None)


def test_pyenv_pythons_are_found_even_when_their_shims_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "versions" / "3.9.18" / "bin"
    folder.mkdir(parents=True)
    (folder / "python3.9").write_text("#!/bin/sh\necho 3.9.18\n")
    (folder / "python3.9").chmod(0o755)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setattr(P.shutil, "which", lambda name: None)
    if sys.version_info[:2] != (3, 9):
        assert P.find_python("3.9") == (str(folder / "python3.9"), "3.9.18")


def test_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(E.CACHE_ENV, str(tmp_path / "lab-cache"))
    assert E.stacks_folder() == tmp_path / "lab-cache" / "stacks"
    monkeypatch.delenv(E.CACHE_ENV)
    assert E.cache_root().name in (E.APP_NAME, "Cache") and E.APP_NAME in str(E.cache_root())
    if sys.platform.startswith("linux"):  # platformdirs follows the XDG convention there
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert E.cache_root() == tmp_path / "xdg" / E.APP_NAME


def test_build_falls_back_to_venv_and_pip_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback path for real, without downloading: pip is asked for pip, which the venv has."""
    monkeypatch.setenv(E.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(I, "uv_binary", lambda: None)
    monkeypatch.setattr(E.Stack, "requirements", lambda self: ["pip"])
    stack = E.Stack("9.9.9")
    assert E.cached(stack) is None
    built = E.build(stack)
    folder = Path(built.environment or "")
    assert folder.is_dir() and I.env_python(folder).exists() and built.python == E.platform.python_version()
    assert not [p for p in folder.parent.iterdir() if ".building-" in p.name]  # nothing half-built left
    again = E.cached(stack)
    assert again is not None and again.cached and again.environment == str(folder)
    assert json.loads(E._marker(folder).read_text())[E.BYTECODE] is True  # pip compiled what it installed
    report = S.run_stacks([E.Stack("9.9.8")], build_missing=False, include_own=False)
    assert "not built on this machine yet" in (report.results[0].error or "") and "--tensorflow 9.9.8" in (
        report.results[0].error or "")


def test_a_stack_cached_without_its_bytecode_is_compiled_once(tmp_path: Path) -> None:
    """Stacks cached before the lab compiled them at build time: with PYTHONDONTWRITEBYTECODE set (this machine),
    their Python would compile every module again at each start."""
    import importlib.util
    import sysconfig
    import venv

    folder = tmp_path / "tf9.9.9-kerasauto-py3"
    venv.create(folder)  # a real environment without pip: enough for compileall
    site = Path(sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)}))
    module = site / "a_module.py"
    module.write_text("ANSWER = 42\n")
    E._marker(folder).write_text(json.dumps({"label": "TF 9.9.9"}))
    compiled = Path(importlib.util.cache_from_source(str(module)))
    E._with_bytecode(folder)
    assert compiled.is_file() and json.loads(E._marker(folder).read_text())[E.BYTECODE] is True
    compiled.unlink()
    E._with_bytecode(folder)
    assert not compiled.exists()  # once: the marker says it is done
    E._with_bytecode(tmp_path / "not-a-stack")  # no marker: nothing to do, and nothing raised


def test_build_failures_become_one_sentence() -> None:
    stack = E.Stack("2.15.1")
    sentence = E._build_failure(stack, "3.13.0", "ERROR: No matching distribution found for tensorflow-cpu==2.15.1",
                                installer="pip")
    assert "needs Python 3.9 to 3.11" in sentence and "\n" not in sentence
    assert E._build_failure(stack, "3.11.7", "boom\nnetwork unreachable\n", installer="uv").endswith(
        "network unreachable")


def test_stage_verdicts_name_the_first_stage_that_differs() -> None:
    def result(**hashes: object) -> E.StackResult:
        base = {"data_sha256": "d", "data_values_sha256": "v", "initial_weights_sha256": "i", "weights_sha256": "w"}
        return E.StackResult(label="x", tensorflow="2", keras="3", python="3.11.7", test_accuracy=0.1,
                             **{**base, **hashes})

    base = result()
    assert S.first_changed_stage(base, result()) is None
    assert S.first_changed_stage(base, result(weights_sha256="w2")) == "training"
    assert S.first_changed_stage(base, result(initial_weights_sha256="i2", weights_sha256="w2")) == "initial weights"
    assert S.first_changed_stage(base, result(data_sha256="d2")) is None  # same values, other bytes
    assert S.first_changed_stage(base, result(data_sha256="d2", data_values_sha256="v2")) == "data"
    report = S.StackReport([base, result(weights_sha256="w2"), E.StackResult(label="y", error="could not build")])
    holds = {v.claim.split(": ", 1)[1]: v.holds for v in report.verdicts()}
    assert holds == {"same data values": True, "same data bytes": True, "same initial weights": True,
                     "same trained weights": False, "same test accuracy": True}
    (line,) = report.first_changes()
    assert "first stage that differs: training" in line
    assert report.errors() == ["y: could not build"]
    assert list(report.table().columns)[-1].startswith("2: y")


def test_other_environments_import_a_copy_of_the_whole_lab_keyed_by_content(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path) -> None:
    from helpers.running import elsewhere

    monkeypatch.setenv(E.CACHE_ENV, str(tmp_path))
    folder = elsewhere.lab_copy()
    copied = sorted(p.relative_to(folder / "helpers").as_posix() for p in folder.rglob("*") if p.is_file())
    assert copied == sorted(p.relative_to(elsewhere.PACKAGE).as_posix() for p in elsewhere._lab_files())
    assert "cards/card.schema.json" in copied and "article/example2_seeded.py" in copied
    assert elsewhere.lab_copy() == folder  # keyed by content: made once
    assert not [p for p in folder.parent.iterdir() if p.name.startswith("lab-")]  # no half-made copy left
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path))
    clean = E.clean_environment()
    assert "PYTHONPATH" not in clean and "VIRTUAL_ENV" not in clean and clean["PATH"] == os.environ["PATH"]
