"""The card command in a learner's own environment: what it needs, what it records, and where it refuses.

What runs here for real: the lab's own environment, this machine's pyenv Pythons (3.7 and 3.8 for
the refusals, 3.9 for the syntax), and a worker in another Python. What cannot run here -- Windows,
macOS, a GPU, conda -- is tested with the platform faked (the loaded libraries, the metadata), and
each such test says so. The real other stacks (TensorFlow 2.10 with Python 3.9, 2.15, Colab's) are
in tests/test_learner_stacks.py.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers.core.config import RunConfig
from helpers.machines import software
from helpers.running import elsewhere, preflight
from helpers.running.runner import RunError, run_configs
from tests.conftest import REPO

PACKAGE = REPO / "helpers"
OPTIONAL = ("pandas", "jsonschema", "fastjsonschema", "tqdm", "cpuinfo", "platformdirs", "matplotlib", "ipywidgets")


def pyenv_python(minor: str) -> str:
    """This machine's Python ``minor`` (CI has pyenv's 3.7 to 3.13 too); a missing one fails the test in one
    sentence, since a skipped test would hide that the claim went unchecked."""
    from helpers.stacks.pythons import find_python

    found = find_python(minor)
    if found is None:
        pytest.fail(f"Python {minor} is not installed on this machine, and this test needs it: install it "
                    f"(pyenv install {minor}) as on the lab's CI machines.", pytrace=False)
    return found[0]


# --------------------------------------------------------------------------- what the card path needs


def test_the_card_path_imports_only_numpy_and_tensorflow() -> None:
    """Everything the card command imports in the parent and in its workers, with the optional libraries
    blocked as if not installed: nothing fails, and plain fallbacks take their place."""
    code = textwrap.dedent(f"""
        import importlib.abc, json, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {OPTIONAL!r}:
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import helpers.cli, helpers.cards.making, helpers.running.worker, helpers.running.experiment
        import helpers.machines.fingerprint, helpers.running.preflight, helpers.running.elsewhere
        from helpers.core.cache import cache_root
        from helpers.running.runner import progress_bar
        from helpers.machines.fingerprint import machine_fingerprint
        from helpers.cards.fileformat import card_document, parse_document
        bar = progress_bar(2, "warm runs", True)
        bar.update(); bar.update(); bar.close()
        document = card_document([], "test")
        parse_document(json.dumps(document), "made here", require_schema=False)
        print(json.dumps({{"loaded": sorted({{m.split(".")[0] for m in sys.modules}}),
                          "cache": str(cache_root()), "cpu": machine_fingerprint()["cpu"]["model"]}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    assert not set(answer["loaded"]) & set(OPTIONAL), answer["loaded"]
    assert answer["cache"].endswith("keras-repro-lab") and answer["cpu"]
    assert "warm runs: 2/2" in done.stderr  # the plain progress line in tqdm's place


def test_every_module_of_the_lab_parses_on_python_3_9() -> None:
    python = pyenv_python("3.9")
    files = [str(p) for p in sorted(PACKAGE.rglob("*.py"))]
    code = "import ast, sys\nfor f in sys.argv[1:]:\n    ast.parse(open(f, encoding='utf-8').read(), f)\n"
    done = subprocess.run([python, "-c", code, *files], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _runtime_newer_than_3_9(path: Path) -> list[str]:
    """Calls and expressions Python 3.9 parses but fails to run: zip(strict=), ``X | None`` outside annotations."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    annotations = set()
    for node in ast.walk(tree):
        for child in ([node.annotation] if isinstance(node, (ast.AnnAssign, ast.arg)) and node.annotation else []) + (
                [node.returns] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns else []):
            annotations.update(id(n) for n in ast.walk(child))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "zip" and any(
                k.arg == "strict" for k in node.keywords):
            found.append(f"{path.name}:{node.lineno}: zip(strict=...) is Python 3.10+")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and id(node) not in annotations:
            sides = (node.left, node.right)
            if any(isinstance(s, ast.Constant) and s.value is None for s in sides) or any(
                    isinstance(s, ast.Name) and s.id in ("int", "str", "float", "bool", "dict", "list", "tuple")
                    for s in sides):
                found.append(f"{path.name}:{node.lineno}: a type union outside an annotation is Python 3.10+")
    return found


def test_no_code_of_the_lab_needs_a_python_newer_than_3_9_at_run_time() -> None:
    found = [line for path in sorted(PACKAGE.rglob("*.py")) for line in _runtime_newer_than_3_9(path)]
    assert not found, found
    example = Path(__file__)  # the check itself can fail: it finds what it looks for in a sample
    sample = example.with_name("sample_newer.py")
    try:
        sample.write_text("x = zip([1], [2], strict=True)\ny = isinstance(1, int | None)\n", encoding="utf-8")
        assert len(_runtime_newer_than_3_9(sample)) == 2
    finally:
        sample.unlink()


# --------------------------------------------------------------------------- the worker elsewhere


@pytest.mark.slow
def test_workers_import_the_lab_even_beside_a_learners_own_helpers_py(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "helpers.py").write_text("raise ImportError(\"the learner's own helpers.py was imported\")\n")
    monkeypatch.chdir(tmp_path)
    (run,) = run_configs([RunConfig(seed=42, epochs=1)], progress=False)
    assert run.test_accuracy > 0 and run.fingerprint["environment"]["kind"] in ("the lab's own", "another")


def test_a_worker_in_a_python_too_old_for_the_lab_answers_in_one_sentence() -> None:
    with pytest.raises(RunError) as caught:
        run_configs([RunConfig(seed=42), RunConfig(seed=None)], progress=False, python=pyenv_python("3.8"))
    message = str(caught.value)
    assert message.startswith("the lab needs Python 3.9 or newer and this is Python 3.8.") and "\n" not in message
    assert caught.value.completed == []


def test_another_pythons_workers_do_not_see_this_environments_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare Python 3.12 from pyenv has no NumPy; were this environment's site-packages leaking in through
    PYTHONPATH, it would find ours."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__import__("numpy").__file__).parents[1]))
    with pytest.raises(RunError, match=r"^NumPy is not installed in this environment \("):
        run_configs([RunConfig(seed=42)], progress=False, python=pyenv_python("3.12"))


def test_the_interpreter_spec() -> None:
    here = elsewhere.as_interpreter(None)
    assert here.executable == sys.executable and Path(here.lab_root) == REPO and not here.isolated
    other = elsewhere.as_interpreter("/some/python")
    assert other.isolated and (Path(other.lab_root) / "helpers" / "__init__.py").is_file()
    assert elsewhere.as_interpreter(other) is other
    assert "PYTHONPATH" not in elsewhere.isolated_environment({"PYTHONPATH": "x", "PATH": "/bin"})


# --------------------------------------------------------------------------- preflight sentences


def test_preflight_sentences_name_what_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "pin NumPy below 2 there (pip install \"numpy<2\")" in preflight.numpy_2_sentence("2.10.1", "2.0.2")
    assert "needs TensorFlow 2.10 or newer" in (preflight.tensorflow_sentence("2.9.3") or "")
    assert preflight.tensorflow_sentence("2.10.0") is None and preflight.tensorflow_sentence("2.21.0") is None
    assert "keras~=2.10.0" in preflight.keras_missing_sentence("2.10.1")
    assert "keras>=3" in preflight.keras_missing_sentence("2.16.1")
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    assert "tf_keras~=2.17.0" in preflight.keras_missing_sentence("2.17.0")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert "its torch backend (KERAS_BACKEND=torch)" in (preflight.before_tensorflow() or "")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert preflight.before_tensorflow() is None  # this environment: TensorFlow 2.21 with NumPy 2, as it may be
    assert preflight.version_tuple("2.10.1") == (2, 10) and preflight.version_tuple("x") == (0, 0)


# --------------------------------------------------------------------------- what the card records


class _FakeKeras:
    """Just enough of a Keras module for keras_identity: the module of Model and the version."""

    def __init__(self, module: str, version: str | None):
        self.Model = type("Model", (), {"__module__": module})
        self.__version__ = version
        self.backend = type("backend", (), {"backend": staticmethod(lambda: "tensorflow")})


@pytest.mark.parametrize(("module", "version", "kind"), [
    ("keras.engine.training", "2.10.0", "tf.keras (Keras 2)"),        # TensorFlow 2.10 (measured there)
    ("keras.src.engine.training", "2.15.0", "tf.keras (Keras 2)"),    # TensorFlow 2.13 to 2.15
    ("tf_keras.src.engine.training", "2.16.0", "tf_keras (Keras 2)"),  # TF_USE_LEGACY_KERAS=1
    ("keras.src.models.model", "3.15.1", "Keras 3"),                  # this environment (measured here)
])
def test_which_keras_a_run_used(module: str, version: str, kind: str) -> None:
    identity = software.keras_identity(_FakeKeras(module, version))
    assert identity == {"keras": version, "keras_kind": kind, "keras_backend": "tensorflow"}


def test_cuda_and_cudnn_as_found_are_read_from_the_loaded_libraries() -> None:
    """Faked: no GPU here. The libraries a GPU process would have loaded, and their own version calls."""
    class Library:
        def __init__(self, versions: dict[str, int]):
            for name, number in versions.items():
                if name == "cudnnGetVersion":
                    setattr(self, name, type("Call", (), {"restype": None, "__call__": lambda s, n=number: n})())
                else:
                    setattr(self, name, lambda out, n=number: (setattr(out._obj, "value", n), 0)[1])

    libraries = {
        "/env/lib/python3.11/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12": {"cudaRuntimeGetVersion": 12030},
        "/env/lib/python3.11/site-packages/nvidia/cudnn/lib/libcudnn.so.9": {"cudnnGetVersion": 90300},
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1": {"cuDriverGetVersion": 12040},
        "/usr/lib/x86_64-linux-gnu/libc.so.6": {},
    }
    found = software.cuda_found({"cuda_version": "12.3", "cudnn_version": "9"}, loaded=libraries,
                                load=lambda path: Library(libraries[path]))
    assert (found["cuda_runtime"], found["cudnn"], found["cuda_driver_api"]) == ("12.3", "9.3.0", "12.4")
    assert found["libraries"] == ["libcudart.so.12", "libcudnn.so.9", "libcuda.so.1"]  # names only, no paths
    old = software.cuda_found({}, loaded=["libcudnn.so.8"], load=lambda p: Library({"cudnnGetVersion": 8600}))
    assert old["cudnn"] == "8.6.0"
    # Faked Windows: TensorFlow 2.10's build info spells CUDA 11.2 and cuDNN 8 as "64_112" and "64_8", and
    # names the DLLs it loads; without the names, the lab derives them.
    windows = {"cuda_version": "64_112", "cudnn_version": "64_8", "cudart_dll_name": "cudart64_110.dll",
               "cudnn_dll_name": "cudnn64_8.dll", "nvcuda_dll_name": "nvcuda.dll"}
    assert software._windows_names(windows) == ["nvcuda.dll", "cudart64_110.dll", "cudnn64_8.dll"]
    assert software._windows_names({"cuda_version": "64_112", "cudnn_version": "64_8"}) == [
        "nvcuda.dll", "cudart64_110.dll", "cudnn64_8.dll"]
    assert software._windows_names({"cuda_version": "12.3", "cudnn_version": "9"})[1:] == [
        "cudart64_12.dll", "cudnn64_9.dll"]


@pytest.mark.parametrize(("direct_url", "how"), [
    (None, "not installed"),
    ({"url": "file:///home/me/keras-repro-lab", "dir_info": {"editable": True}}, "editable"),
    ({"url": "file:///home/me/keras-repro-lab", "dir_info": {}}, "from a folder"),
    ({"url": "https://github.com/o/r", "vcs_info": {"vcs": "git", "commit_id": "ab" * 20}}, "from git"),
    ("no direct_url.json", "from an index or a wheel"),
])
def test_how_the_lab_was_installed(direct_url: object, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Faked: the distribution's metadata, as pip writes it for each way of installing (PEP 610)."""
    dist = None if direct_url is None else object()
    direct = direct_url if isinstance(direct_url, dict) else None
    monkeypatch.setattr(software, "_read_metadata", lambda name: (dist, direct))
    found = software.lab_installation()
    assert found["how"] == how
    if how == "from git":
        assert found["commit"] == "ab" * 20 and found["source"] == "https://github.com/o/r"


def test_which_environment_made_the_card(tmp_path: Path) -> None:
    checkout = tmp_path / "keras-repro-lab"
    (checkout / ".venv").mkdir(parents=True)
    (checkout / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    editable = {"how": "editable", "source": None, "commit": None, "_folder": checkout.as_uri()}
    own = software.environment_info(str(checkout / ".venv"), editable)
    assert own["kind"] == "the lab's own" and own["manager"] == "venv" and own["lab_installed"] == "editable"
    learner = tmp_path / "my-project-env"
    (learner / "conda-meta").mkdir(parents=True)  # faked: a conda environment
    other = software.environment_info(str(learner), {"how": "from a folder", "source": None, "commit": None})
    assert other["kind"] == "another" and other["manager"] == "conda"
    # An editable install used from another environment is still another environment.
    assert software.environment_info(str(learner), editable)["kind"] == "another"
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / software.STACK_MARKER).write_text("{}")
    assert software.environment_info(str(stack), editable)["kind"] == "a stack the lab built"
    assert "/" not in json.dumps(other)  # no paths in a card


def test_this_environment_is_the_labs_own() -> None:
    """Measured: the lab's .venv, which tools/lab.py makes in a checkout and installs the lab into, editable."""
    prefix = Path(sys.prefix)
    if prefix.name != ".venv" or not (prefix.parent / "pyproject.toml").is_file():
        pytest.skip("the tests run outside the lab's own .venv (the Colab check, say)")
    assert software.environment_info()["kind"] == "the lab's own"


def test_the_plain_cache_folder_matches_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Faked for Windows and macOS: where platformdirs is not installed, the fallback gives its folders
    (Windows: %LOCALAPPDATA%\\APP\\Cache, as platformdirs documents it with appauthor=False; macOS: as
    platformdirs' own macOS class answers here)."""
    from platformdirs.macos import MacOS

    from helpers.core import cache

    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache._plain_cache_dir() == cache.cache_root() == tmp_path / "xdg" / "keras-repro-lab"
    monkeypatch.setattr(cache.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path))
    assert cache._plain_cache_dir() == tmp_path / "keras-repro-lab" / "Cache"
    monkeypatch.setattr(cache.sys, "platform", "darwin")
    assert cache._plain_cache_dir() == Path(MacOS("keras-repro-lab", appauthor=False).user_cache_dir)
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache._plain_cache_dir() == Path(MacOS("keras-repro-lab", appauthor=False).user_cache_dir)


def test_the_install_lines_name_the_labs_github_location() -> None:
    """docs/your-environment.md and notebook 04's guide spell out the GitHub address: pyproject's
    [tool.repro-lab.github] (for a fork, change them with it)."""
    import re
    import tomllib

    github = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["repro-lab"]["github"]
    import nbformat

    guide = nbformat.read(REPO / "notebooks" / "04_across_machines.ipynb", as_version=4).cells[-1].source
    text = (REPO / "docs" / "your-environment.md").read_text(encoding="utf-8") + guide
    found = set(re.findall(r"git\+https://github\.com/([\w.-]+)/([\w.-]+)@([\w./-]+)\"", text))
    assert found == {(github["owner"], github["repo"], github["branch"])}, found
    clones = set(re.findall(r"git clone https://github\.com/([\w.-]+)/([\w.-]+)\n", text))
    assert clones == {(github["owner"], github["repo"])}, clones


def test_windows_cpu_without_py_cpuinfo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faked Windows: IsProcessorFeaturePresent of an AVX2 CPU without AVX-512, and the registry's brand."""
    from helpers.machines import cpu
    from helpers.machines.onednn import best_level

    kernel32 = type("Kernel32", (), {"IsProcessorFeaturePresent": staticmethod(lambda code: code in (37, 38, 39, 40))})
    registry = type("Registry", (), {"HKEY_LOCAL_MACHINE": 0, "OpenKey": staticmethod(lambda root, path: path),
                                     "QueryValueEx": staticmethod(lambda key, name: ("Intel(R) Core(TM) i7 ", 1))})
    model, flags = cpu._windows_cpu(kernel32, registry)
    assert model == "Intel(R) Core(TM) i7" and flags == {"sse4_1", "sse4_2", "avx", "avx2", "fma"}
    assert best_level(flags) == "AVX2"
    monkeypatch.setattr(cpu, "_linux_cpu", lambda: None)
    monkeypatch.setattr(cpu.sys, "platform", "win32")
    monkeypatch.setattr(cpu.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(cpu, "_windows_cpu", lambda: (model, flags))
    cpu.cpu_info.cache_clear()
    try:
        found = cpu.cpu_info()
    finally:
        cpu.cpu_info.cache_clear()
    assert found["vector_flags"] == ["sse4_1", "sse4_2", "avx", "avx2", "fma"]
    assert found["flags_from"].startswith("IsProcessorFeaturePresent")


def test_the_stack_a_card_names() -> None:
    """What `imitate` builds for a card (no build here): Keras 2 comes with its TensorFlow, Keras 3 and tf_keras
    pinned, NumPy below 2 before TensorFlow 2.18, the card's Python where this machine has it."""
    from helpers import stack_for_card
    from helpers.stacks.environments import Stack

    def fingerprint(tensorflow: str, keras: str, kind: str, python: str = "3.11.7") -> dict:
        return {"tensorflow": tensorflow, "keras": keras, "keras_kind": kind, "python": python}

    keras2 = stack_for_card(fingerprint("2.10.1", "2.10.0", "tf.keras (Keras 2)", "3.9.18"))
    assert keras2 == Stack("2.10.1", python="3.9") and keras2.requirements()[1:] == ["numpy<2"]
    legacy = stack_for_card(fingerprint("2.17.0", "2.17.0", "tf_keras (Keras 2)"))
    assert legacy.tf_keras == "2.17.0" and legacy.environment() == {"TF_USE_LEGACY_KERAS": "1"}
    keras3 = stack_for_card(fingerprint("2.20.0", "3.13.2", "Keras 3"))
    assert keras3.keras == "3.13.2" and "numpy<2" not in keras3.requirements()
    colab = Stack("2.20.0", keras="3.13.2", python="3.13", numpy="2.1.3", package="tensorflow")
    assert colab.requirements() == ["tensorflow==2.20.0", "keras==3.13.2", "numpy==2.1.3"]
    assert colab.folder_name("3.13.0").startswith("tf2.20.0-keras3.13.2-py3.13-numpy2.1.3-tensorflow-")
    for python in ("2.7.18", "3.13.0"):  # installed here, but TensorFlow 2.15 has no wheels for them
        assert stack_for_card(fingerprint("2.15.1", "2.15.0", "tf.keras (Keras 2)", python)).python is None
