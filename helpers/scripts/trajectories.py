"""Two script runs' weights compared fit by fit, epoch by epoch and layer by layer.

Each ``fit`` of a recorded run carries its weights before training and after the kept epochs:
encoded (:mod:`helpers.core.weights`) for a small model, as per-layer hashes always. The runs'
fits are paired in order; the first fit whose weights part says where, and which layer.
"""

from __future__ import annotations

from typing import Any

from helpers.core.layers import parting, parting_by_hash
from helpers.core.weights import WeightsError, decode


def _groups(run: Any) -> dict[str, list[int]]:
    return {layer["name"]: list(layer["arrays"]) for layer in run.model.get("layers", [])}


def parting_layers(a: Any, b: Any) -> list[dict[str, Any]] | None:
    """Rows of :func:`helpers.core.layers.parting` (with the ``fit``, counted from 1) for the first fit
    whose weights part, [] when none do, None when the runs carry nothing to tell."""
    groups = _groups(a)
    if not groups or groups != _groups(b) or len(a.fits) != len(b.fits):
        return None
    told = False
    for number, (fit_a, fit_b) in enumerate(zip(a.fits, b.fits), start=1):
        rows = None
        if fit_a.get("weights_per_epoch") and fit_b.get("weights_per_epoch"):
            try:
                epochs_a, snaps_a = decode(fit_a["weights_per_epoch"])
                epochs_b, snaps_b = decode(fit_b["weights_per_epoch"])
            except WeightsError:
                return None
            if epochs_a == epochs_b:
                try:
                    rows = parting(epochs_a, snaps_a, snaps_b, groups)
                except ValueError:  # other shapes: another model
                    return None
        elif (fit_a.get("layer_sha256_per_epoch") and fit_b.get("layer_sha256_per_epoch")
              and fit_a.get("trajectory_epochs") == fit_b.get("trajectory_epochs")):
            rows = parting_by_hash(fit_a["trajectory_epochs"], fit_a["layer_sha256_per_epoch"],
                                   fit_b["layer_sha256_per_epoch"], list(groups))
        if rows is None:
            continue
        told = True
        if rows:
            return [{**row, "fit": number} for row in rows]
    return [] if told else None
