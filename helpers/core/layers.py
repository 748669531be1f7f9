"""Which layer parts first: two runs' weights compared layer by layer, epoch by epoch.

Given the weights of two runs of one model before training and after some epochs (lists of
arrays, in ``model.get_weights()`` order) and which arrays belong to which layer, find the
first epoch at which any weight differs and, for every layer, the largest absolute difference
there and at the end. When the layers are not known (a card of the article's model), a kernel
and the bias that follows it are taken as one layer. NumPy only; no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def guess_layers(shapes: Sequence[Sequence[int]]) -> dict[str, list[int]]:
    """Arrays grouped into layers by shape alone: a 1-D array whose length is the last dimension
    of the array before it is that array's bias ("layer 1 (10x128)", ...)."""
    groups: dict[str, list[int]] = {}
    index = 0
    while index < len(shapes):
        members = [index]
        if (index + 1 < len(shapes) and len(shapes[index]) > 1 and len(shapes[index + 1]) == 1
                and shapes[index + 1][0] == shapes[index][-1]):
            members.append(index + 1)
        shape = "x".join(str(n) for n in shapes[index]) or "scalar"
        groups[f"layer {len(groups) + 1} ({shape})"] = members
        index += len(members)
    return groups


def layer_distances(a: Sequence[np.ndarray], b: Sequence[np.ndarray], groups: Mapping[str, Sequence[int]]
                    ) -> dict[str, float]:
    """The largest absolute difference between ``a`` and ``b`` in each layer's arrays."""
    distances = {}
    for name, members in groups.items():
        largest = 0.0
        for i in members:
            if np.shape(a[i]) != np.shape(b[i]):
                raise ValueError("the two models' weights have different shapes, so they are different models.")
            diff = np.abs(np.asarray(a[i], np.float64) - np.asarray(b[i], np.float64))
            largest = max(largest, float(np.max(diff, initial=0.0)))
        distances[name] = largest
    return distances


def parting(epochs: Sequence[int], a: Sequence[Sequence[np.ndarray]], b: Sequence[Sequence[np.ndarray]],
            groups: Mapping[str, Sequence[int]]) -> list[dict[str, Any]]:
    """Every layer at the first epoch where the two runs' weights differ, most different first.

    Each row: ``layer``, ``epoch`` (0: before training), ``at_first`` (largest |Δw| in that layer
    then) and ``at_end`` (after the last epoch). Empty when the weights never differ.
    """
    first = next((i for i in range(len(epochs)) if any(layer_distances(a[i], b[i], groups).values())), None)
    if first is None:
        return []
    at_first = layer_distances(a[first], b[first], groups)
    at_end = layer_distances(a[-1], b[-1], groups)
    order = list(groups)
    rows = [{"layer": name, "epoch": int(epochs[first]), "at_first": at_first[name], "at_end": at_end[name]}
            for name in order]
    return sorted(rows, key=lambda row: (-row["at_first"], order.index(row["layer"])))


def parting_by_hash(epochs: Sequence[int], a: Sequence[Sequence[str]], b: Sequence[Sequence[str]],
                    names: Sequence[str]) -> list[dict[str, Any]]:
    """Like :func:`parting` for models too big to carry their weights: per-layer hashes say which
    layers differ at the first differing epoch, not by how much (``at_first``/``at_end`` None)."""
    for i, epoch in enumerate(epochs):
        differing = [name for name, x, y in zip(names, a[i], b[i]) if x != y]
        if differing:
            return [{"layer": name, "epoch": int(epoch), "at_first": None, "at_end": None} for name in differing]
    return []


def parting_sentence(rows: Sequence[Mapping[str, Any]], where: str = "") -> str:
    """'The weights part after epoch 1, first in layer dense (largest |Δw| 3e-08 there, 0.002 at the end).'"""
    if not rows:
        return "The weights never part: every layer is identical after every recorded epoch."
    top = rows[0]
    name = top["layer"] if top["layer"].startswith("layer ") else f"layer {top['layer']}"
    when = "before training" if top["epoch"] == 0 else f"after epoch {top['epoch']}{where}"
    if top["at_first"] is None:
        names = ", ".join(row["layer"] for row in rows)
        return f"The weights part {when}, in layer{'s' * (len(rows) > 1)} {names} (by hash; the card is too big " \
               "to carry the weights themselves)."
    return (f"The weights part {when}, first in {name} (largest |Δw| {top['at_first']:.3g} there, "
            f"{top['at_end']:.3g} at the end).")
