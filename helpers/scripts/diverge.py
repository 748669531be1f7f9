"""Two settings of one script, side by side: where do they part, which layer first, and how far apart?

Run A is the script seeded with ``set_random_seed`` (as a card's seeded runs are); run B is A with
one thing changed -- an environment variable such as ``ONEDNN_MAX_CPU_ISA=SSE41`` (an older CPU),
op determinism, another seed or none. Both are fresh, recorded runs; their weights after every
kept epoch are compared fit by fit and layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.layers import parting_sentence
from helpers.core.results import Verdict
from helpers.core.stages import compare_stages, first_differing_stage
from helpers.core.weights import WeightsError, decode
from helpers.scripts import DEFAULT_TIMEOUT
from helpers.scripts.runs import Fix, ScriptRun, run_scripts
from helpers.scripts.source import load_script
from helpers.scripts.trajectories import parting_layers


@dataclass
class ScriptDivergence:
    a: ScriptRun
    b: ScriptRun

    @property
    def stages(self) -> dict[str, str]:
        return compare_stages(self.a, self.b)

    @property
    def layers(self) -> list[dict[str, Any]] | None:
        return parting_layers(self.a, self.b)

    def per_epoch(self) -> list[dict[str, Any]]:
        """Per fit and kept epoch, the largest |Δw| over the whole model (where both runs carry weights)."""
        rows = []
        for number, (fa, fb) in enumerate(zip(self.a.fits, self.b.fits), start=1):
            if not (fa.get("weights_per_epoch") and fb.get("weights_per_epoch")):
                continue
            try:
                (ea, sa), (eb, sb) = decode(fa["weights_per_epoch"]), decode(fb["weights_per_epoch"])
            except WeightsError:
                continue
            if ea != eb or [w.shape for w in sa[0]] != [w.shape for w in sb[0]]:
                continue
            for epoch, x, y in zip(ea, sa, sb):
                largest = max(float(np.max(np.abs(u.astype(np.float64) - v), initial=0.0)) for u, v in zip(x, y))
                rows.append({"fit": number, "epoch": epoch, "max_abs_difference": largest})
        return rows

    def setting(self) -> str:
        return f"{self.b.fix.label} against {self.a.fix.label}"

    def verdicts(self) -> list[Verdict]:
        stage = first_differing_stage(self.stages)
        return [Verdict(f"{self.a.script}, {self.setting()}: the trained weights differ",
                        self.a.weights_sha256 != self.b.weights_sha256, f"first differing stage: {stage or 'none'}")]

    def summary(self) -> str:
        stage = first_differing_stage(self.stages)
        lines = [f"run A: {self.a.label}", f"run B: {self.b.label}",
                 "stages: " + ", ".join(f"{s} {o}" for s, o in self.stages.items())]
        if self.layers is not None and stage in ("training", "evaluation"):
            lines.append(parting_sentence(self.layers))
        for run, name in ((self.a, "A"), (self.b, "B")):
            lines.append(f"test results {name}: " + ", ".join(f"{k} {v:.6f}" for k, v in (run.evaluation_values or ())
                                                              if v is not None))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"script": self.a.script, "sha256": self.a.script_sha256, "run_a": self.a.fix.to_dict(),
                "run_b": self.b.fix.to_dict(), "setting": self.setting(), "stages": self.stages,
                "first_differing_stage": first_differing_stage(self.stages), "layers": self.layers,
                "per_epoch": self.per_epoch(), "evaluation": {"a": dict(self.a.evaluation_values or ()),
                                                              "b": dict(self.b.evaluation_values or ())},
                "capped": self.a.capped or self.b.capped,
                "verdicts": [{"claim": v.claim, "holds": v.holds, "detail": v.detail} for v in self.verdicts()]}


def diverge_script(script: str | Path, a: Fix, b: Fix, *, max_epochs: int | None = None, max_steps: int | None = None,
                   timeout: float = DEFAULT_TIMEOUT, python: str | None = None) -> ScriptDivergence:
    """Run ``script`` with fix ``a`` and fix ``b`` side by side, each in a fresh process, and compare them."""
    from helpers.core.config import ConfigError

    if a == b:
        raise ConfigError("run B is the same as run A; change one setting of B (e.g. --b-env "
                          "ONEDNN_MAX_CPU_ISA=SSE41, or another seed).")
    runs = run_scripts(load_script(script), [a, b], max_epochs=max_epochs, max_steps=max_steps, timeout=timeout,
                       python=python)
    return ScriptDivergence(runs[0], runs[1])
