"""The software stack a run used: which Keras, which CUDA and cuDNN really loaded, and which environment.

A card from a learner's own environment must say what that environment was, since that is where
their model gave the other accuracy: Keras 3, Keras 2 through ``tf.keras`` (TensorFlow up to 2.15)
or ``tf_keras`` (TensorFlow 2.16+ with ``TF_USE_LEGACY_KERAS=1``); the CUDA and cuDNN TensorFlow
was built for and, on a GPU, the ones it really loaded (a pip-installed cuDNN or the system's) and
the driver; and whether the environment is the lab's own ``.venv``, a stack the lab built, or
another one. No file paths go into a card: cards travel between people.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

DISTRIBUTION = "keras-repro-lab"
STACK_MARKER = "repro-lab-stack.json"  # written by helpers.stacks.environments into each stack it builds


def keras_identity(keras: Any) -> dict[str, str]:
    """Which Keras ``from tensorflow import keras`` gave: its version, kind and backend."""
    module = keras.Model.__module__  # keras.engine..., keras.src.engine... (Keras 2), keras.src.models... (3)
    version = str(getattr(keras, "__version__", None) or _distribution_version("tf_keras" if module.startswith(
        "tf_keras") else "keras") or "unknown")
    if module.startswith("tf_keras"):
        kind = "tf_keras (Keras 2)"
    elif version.startswith("2.") or ".engine" in module:
        kind = "tf.keras (Keras 2)"
    else:
        kind = f"Keras {version.split('.')[0]}"
    backend = getattr(keras.backend, "backend", lambda: "tensorflow")()
    return {"keras": version, "keras_kind": kind, "keras_backend": str(backend)}


def _distribution_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


# --------------------------------------------------------------------------- CUDA and cuDNN as found


def _loaded_linux() -> list[str]:
    """Paths of the shared libraries this process has loaded (Linux: from /proc/self/maps)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as file:
            return sorted({line.split(maxsplit=5)[5].strip() for line in file if len(line.split(maxsplit=5)) == 6
                           and ".so" in line})
    except OSError:
        return []


def _windows_names(build: dict[str, Any]) -> list[str]:
    """The CUDA DLLs TensorFlow's Windows build loads: its build info names them (``cudart_dll_name``, ...) and
    spells the versions ``64_112`` and ``64_8``; asking Windows for a loaded DLL again returns that one."""
    cuda = re.sub(r"^64_", "", str(build.get("cuda_version") or ""))
    cudnn = re.sub(r"^64_", "", str(build.get("cudnn_version") or "")).split(".")[0]
    major = cuda.split(".")[0] if "." in cuda else cuda[:2]
    names = [build.get("nvcuda_dll_name") or "nvcuda.dll"]
    if build.get("cudart_dll_name") or major:
        names.append(build.get("cudart_dll_name") or (f"cudart64_{major}0.dll" if major == "11"
                                                       else f"cudart64_{major}.dll"))
    if build.get("cudnn_dll_name") or cudnn:
        names.append(build.get("cudnn_dll_name") or f"cudnn64_{cudnn}.dll")
    return [str(name) for name in names]


def _version_call(library: Any, function: str, out_parameter: bool) -> int | None:
    try:
        call = getattr(library, function)
    except AttributeError:
        return None
    if out_parameter:  # cudaRuntimeGetVersion(int*), cuDriverGetVersion(int*): 0 on success
        value = ctypes.c_int(0)
        return value.value if call(ctypes.byref(value)) == 0 else None
    call.restype = ctypes.c_size_t  # cudnnGetVersion()
    return int(call())


def _cuda_version(number: int) -> str:
    return f"{number // 1000}.{number % 1000 // 10}"  # 11020 -> 11.2


def _cudnn_version(number: int) -> str:
    major = number // 10000 if number >= 10000 else number // 1000  # cuDNN 9: 90100; cuDNN 8: 8600
    rest = number % 10000 if number >= 10000 else number % 1000
    return f"{major}.{rest // 100}.{rest % 100}"


def _driver_version() -> str | None:
    try:
        text = Path("/proc/driver/nvidia/version").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.search(r"Kernel Module\s+([\d.]+)", text)
    return found[1] if found else None


# Each library's own version call: (function, whether it returns the version through an int* argument).
VERSION_CALLS = {"cuda_runtime": ("cudaRuntimeGetVersion", True), "cudnn": ("cudnnGetVersion", False),
                 "cuda_driver_api": ("cuDriverGetVersion", True)}


def cuda_found(build: dict[str, Any], *, loaded: Iterable[str] | None = None,
               load: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """The CUDA runtime, cuDNN and driver this process really loaded (call it once TensorFlow sees a GPU).

    TensorFlow's build info says what it was built for; what runs is whatever the loader found (pip's
    nvidia-* packages, a system CUDA, a conda one), and that can differ.
    """
    if load is None:
        load = ctypes.WinDLL if sys.platform == "win32" else ctypes.CDLL  # type: ignore[attr-defined]
    if loaded is None:
        loaded = _windows_names(build) if sys.platform == "win32" else _loaded_linux()
    found: dict[str, Any] = {"cuda_runtime": None, "cudnn": None, "cuda_driver_api": None,
                             "driver": _driver_version(), "libraries": []}
    for path in loaded:
        name = os.path.basename(path).lower()
        kind = ("cuda_runtime" if name.startswith(("libcudart", "cudart")) else
                "cudnn" if name.startswith(("libcudnn.so", "cudnn64")) else
                "cuda_driver_api" if name.startswith(("libcuda.so", "nvcuda")) else None)
        if kind is None or found[kind] is not None:
            continue
        try:
            library = load(path)
        except OSError:
            continue
        function, out_parameter = VERSION_CALLS[kind]
        number = _version_call(library, function, out_parameter)
        if number:
            found[kind] = _cudnn_version(number) if kind == "cudnn" else _cuda_version(number)
            found["libraries"].append(os.path.basename(path))
    return found


# --------------------------------------------------------------------------- the environment


def _read_metadata(name: str) -> tuple[Any, dict[str, Any] | None]:
    # Run from a checkout, the current folder is on sys.path and its ``*.egg-info`` (left there by
    # the editable build) is found first; it has no direct_url.json, the installed copy's does.
    from importlib.metadata import distributions

    found = list(distributions(name=name))
    for dist in found:
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "null")
        except ValueError:
            direct = None
        if isinstance(direct, dict):
            return dist, direct
    return (found[0], None) if found else (None, None)


def lab_installation(name: str = DISTRIBUTION) -> dict[str, Any]:
    """How the lab is installed in this environment, from its distribution's metadata (PEP 610's
    ``direct_url.json``): editable from a checkout, from a folder, from git (GitHub), from an index or
    wheel, or not at all (run from a folder, or a copy the lab's runner made)."""
    dist, direct = _read_metadata(name)
    if dist is None:
        return {"how": "not installed", "source": None, "commit": None}
    if direct is None:
        return {"how": "from an index or a wheel", "source": None, "commit": None}
    url = str(direct.get("url", ""))
    if "vcs_info" in direct:
        vcs = direct["vcs_info"]
        return {"how": "from git", "source": re.sub(r"//[^/@]*@", "//", url)[:200],  # no credentials in a card
                "commit": str(vcs.get("commit_id", ""))[:40] or None}
    if (direct.get("dir_info") or {}).get("editable"):
        return {"how": "editable", "source": None, "commit": None, "_folder": url}
    if "dir_info" in direct:
        return {"how": "from a folder", "source": None, "commit": None}
    return {"how": "from an archive", "source": None, "commit": None}


def _file_url_path(url: str) -> Path | None:
    if not url.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    path = unquote(urlparse(url).path)
    if re.match(r"^/[A-Za-z]:", path):  # file:///C:/... on Windows
        path = path[1:]
    return Path(path)


def environment_info(prefix: str | None = None, installation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Which environment this process runs in: the lab's own (the ``.venv`` that ``tools/lab.py`` makes in a
    checkout and installs the lab into, editable), a stack the lab built, or another one (a learner's venv or
    conda environment, Colab); and how the lab is installed in it."""
    prefix_path = Path(prefix or sys.prefix)
    installation = dict(installation if installation is not None else lab_installation())
    folder = _file_url_path(installation.pop("_folder", "") or "")
    if (prefix_path / STACK_MARKER).is_file():
        kind = "a stack the lab built"
    elif installation["how"] == "editable" and folder is not None and _same(prefix_path, folder / ".venv"):
        kind = "the lab's own"
    else:
        kind = "another"
    if (prefix_path / "conda-meta").is_dir():
        manager = "conda"
    elif (prefix_path / "pyvenv.cfg").is_file():
        manager = "venv"
    else:
        manager = "system"
    return {"kind": kind, "manager": manager, "lab_installed": installation["how"],
            "lab_source": installation["source"], "lab_commit": installation["commit"]}


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
