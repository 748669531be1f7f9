"""The notebook metadata Colab reads: the notebook's name, the table of contents, the accelerator.

Every notebook gets ``colab: {"name": "NAME.ipynb", "toc_visible": true, "provenance": []}``, as the
tensorflow/docs notebooks have it, so Colab opens it by its own name with the table of contents
shown. A notebook listed in ``ACCELERATORS`` also asks for a GPU runtime: ``"accelerator": "GPU"``
beside ``colab``, and the GPU type inside it (``"gpuType": "T4"``), which is where Colab itself
stores "Runtime > Change runtime type". ``make badges`` writes all this (``set_metadata``),
``normalize`` keeps it (``kept``: only these keys, and ``provenance`` emptied, since Colab fills
it on every copy), and ``check-badges`` reports a difference (``problems``).
"""

from __future__ import annotations

import copy
import json

import nbformat

from .files import stem

# The one place that says which notebook asks Colab for which GPU (stem -> Colab's gpuType).
# 03 compares runs on the GPU with runs forced onto the CPU, so it needs a GPU to show both.
ACCELERATORS = {"03_cpu_forced": "T4"}
# The keys of the notebook's ``colab`` block that normalize keeps; Colab adds others on save
# (authorship_tag, collapsed_sections, include_colab_link, ...), which go.
COLAB_KEYS = ("name", "toc_visible", "provenance", "gpuType")


def expected(name: str) -> dict:
    """The Colab part of notebook ``name``'s metadata: ``colab`` and, for a GPU notebook, ``accelerator``."""
    colab: dict = {"name": f"{stem(name)}.ipynb", "toc_visible": True, "provenance": []}
    found: dict = {"colab": colab}
    gpu = ACCELERATORS.get(stem(name))
    if gpu:
        colab["gpuType"] = gpu
        found["accelerator"] = "GPU"
    return found


def kept(metadata: dict) -> dict:
    """What ``normalize`` keeps of the Colab metadata in ``metadata`` (a notebook's), whatever its values."""
    found: dict = {}
    colab = metadata.get("colab")
    if isinstance(colab, dict):
        block = {key: copy.deepcopy(colab[key]) for key in COLAB_KEYS if key in colab}
        if "provenance" in block:
            block["provenance"] = []
        if block:
            found["colab"] = block
    if isinstance(metadata.get("accelerator"), str):
        found["accelerator"] = metadata["accelerator"]
    return found


def _flat(metadata: dict) -> dict:
    """The Colab part of notebook metadata as dotted keys (``colab.name``, ``accelerator``...)."""
    flat = {}
    colab = metadata.get("colab")
    if isinstance(colab, dict):
        flat.update({f"colab.{key}": value for key, value in colab.items()})
    elif "colab" in metadata:
        flat["colab"] = colab
    if "accelerator" in metadata:
        flat["accelerator"] = metadata["accelerator"]
    return flat


def set_metadata(nb: nbformat.NotebookNode, name: str) -> None:
    """Give ``nb`` exactly the Colab metadata of notebook ``name`` (other metadata stays)."""
    for key in ("colab", "accelerator"):
        nb.metadata.pop(key, None)
    nb.metadata.update(nbformat.from_dict(expected(name)))


def problems(where: str, nb: nbformat.NotebookNode, name: str) -> list[str]:
    """What is wrong with ``nb``'s Colab metadata, one sentence (``check-badges``)."""
    want, have = _flat(expected(name)), _flat(nb.metadata)
    wrong = [key for key in sorted({*want, *have}) if have.get(key, ...) != want.get(key, ...)]
    if not wrong:
        return []
    shown = ", ".join(
        (f"{key} = {json.dumps(have[key])}" if key in have else f"no {key}")
        + (f" (expected {json.dumps(want[key])})" if key in want else " (expected none)")
        for key in wrong
    )
    return [f"{where}: the Colab metadata is not what `make badges` writes: {shown}; run `make badges`."]
