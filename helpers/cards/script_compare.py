"""Compare two cards of a learner's script: by stage, by layer, by the model's settings, by factor.

The cards are matched by the script's content hash (and it is said when the scripts differ)
and setting by setting: the runs as written, and the runs seeded with ``set_random_seed``. Before
any weight, the model itself is compared -- the compile settings (a changed learning rate) and the
layers' configuration -- because a changed script explains everything after it. Then the stages,
which layer parts first and by how much, and the fingerprint factors, most likely cause first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from helpers.cards.factors import Factor, differing_factors
from helpers.cards.script_cards import ScriptCard, setting_name
from helpers.core.layers import parting_sentence
from helpers.core.stages import STAGES, compare_stages, first_differing_stage
from helpers.core.text_table import text_table
from helpers.machines.fingerprint import machine_label
from helpers.scripts.runs import ScriptRun
from helpers.scripts.trajectories import parting_layers

IGNORED_KEYS = {"name", "trainable", "dtype", "is_legacy_optimizer", "jit_compile"}
MODEL_WHY = ("The script itself trains another model or trains it otherwise, so the runs are not the same "
             "experiment: this comes before any machine difference.")
DATA_CAUSES = ("files read in the order the file system lists them (another machine lists them in another order; "
               "sort them), an unseeded train_test_split (give it random_state), or data fetched anew")


@dataclass
class ScriptSettingComparison:
    """The two cards' runs of one setting, by stage and by layer."""

    key: tuple[str, int | None]
    a: ScriptRun
    b: ScriptRun
    stages: dict[str, str]
    layers: list[dict[str, Any]] | None

    @property
    def label(self) -> str:
        return setting_name(self.key)

    @property
    def first_stage(self) -> str | None:
        return first_differing_stage(self.stages)

    def to_dict(self) -> dict[str, Any]:
        return {"setting": self.label, "stages": dict(self.stages), "first_differing_stage": self.first_stage,
                "layers": self.layers, "evaluation": {"a": dict(self.a.evaluation_values or ()),
                                                      "b": dict(self.b.evaluation_values or ())}}


def _simple(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None or (
        isinstance(value, list) and all(isinstance(v, (int, float, str, bool)) for v in value))


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-6)  # Keras 3 reads a learning rate back through float32
    return a == b


def _config_changes(where: str, a: dict[str, Any], b: dict[str, Any]) -> list[Factor]:
    """Differences in the plain settings both configurations have (Keras 2 and 3 write other extras)."""
    found = []
    for key in sorted(set(a) & set(b) - IGNORED_KEYS):
        if _simple(a[key]) and _simple(b[key]) and not _equal(a[key], b[key]):
            found.append(Factor(f"{where}: {key}", str(a[key]), str(b[key]), MODEL_WHY, True))
    return found


def model_changes(a: ScriptRun, b: ScriptRun) -> list[Factor]:
    """What differs in the model itself: the compile settings, then the layers."""
    found: list[Factor] = []
    ca, cb = a.model.get("compile") or {}, b.model.get("compile") or {}
    oa, ob = ca.get("optimizer") or {}, cb.get("optimizer") or {}
    if isinstance(oa, dict) and isinstance(ob, dict):
        if oa.get("class") != ob.get("class"):
            found.append(Factor("optimizer", str(oa.get("class")), str(ob.get("class")), MODEL_WHY, True))
        else:
            found += _config_changes(f"optimizer {oa.get('class')}", oa.get("config") or {}, ob.get("config") or {})
    la, lb = ca.get("loss"), cb.get("loss")
    name_a = la.get("class") if isinstance(la, dict) else la
    name_b = lb.get("class") if isinstance(lb, dict) else lb
    if name_a != name_b:
        found.append(Factor("loss", str(name_a), str(name_b), MODEL_WHY, True))
    layers_a, layers_b = a.model.get("layers") or [], b.model.get("layers") or []
    if [x.get("class") for x in layers_a] != [x.get("class") for x in layers_b]:
        found.append(Factor("layers", " > ".join(str(x.get("class")) for x in layers_a),
                            " > ".join(str(x.get("class")) for x in layers_b), MODEL_WHY, True))
    else:
        for x, y in zip(layers_a, layers_b):
            found += _config_changes(f"layer {x.get('name')}", x.get("config") or {}, y.get("config") or {})
    if a.model.get("shapes") != b.model.get("shapes") and not found:
        found.append(Factor("weight shapes", str(a.model.get("shapes")), str(b.model.get("shapes")), MODEL_WHY, True))
    return found


def _representative(runs: list[ScriptRun]) -> ScriptRun:
    return next((run for run in runs if any(fit.get("weights_per_epoch") for fit in run.fits)), runs[0])


@dataclass
class ScriptComparison:
    """Two script cards compared; ``to_dict``/``text`` as the article cards' comparison."""

    a: ScriptCard
    b: ScriptCard
    settings: list[ScriptSettingComparison]
    primary: ScriptSettingComparison
    model: list[Factor]
    factors: list[Factor]
    conclusion: str
    only_in_one: list[str]

    @property
    def same_script(self) -> bool:
        return self.a.sha256 == self.b.sha256

    def stage_rows(self) -> list[dict[str, Any]]:
        """The rows of :meth:`stages_table`, as dicts (the CLI prints them without pandas)."""
        return [{"runs": s.label, **{stage: s.stages[stage] for stage in STAGES},
                 "first parting layer": (s.layers[0]["layer"] if s.layers else None),
                 "test result A": _result(s.a), "test result B": _result(s.b)} for s in self.settings]

    def stages_table(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.stage_rows()).set_index("runs")

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"name": self.a.card.name, "script": self.a.name, "sha256": self.a.sha256, "note": self.a.card.note,
                  "machine": machine_label(self.primary.a.fingerprint), "capped": self.a.capped},
            "b": {"name": self.b.card.name, "script": self.b.name, "sha256": self.b.sha256, "note": self.b.card.note,
                  "machine": machine_label(self.primary.b.fingerprint), "capped": self.b.capped},
            "same_script": self.same_script, **self.primary.to_dict(),
            "model_changes": [f.to_dict() for f in self.model], "factors": [f.to_dict() for f in self.factors],
            "conclusion": self.conclusion, "settings": [s.to_dict() for s in self.settings],
            "settings_in_one_card_only": list(self.only_in_one),
        }

    def text(self) -> str:
        lines = [f"A: {self.a.card.name}  ({self.a.name}; {machine_label(self.primary.a.fingerprint)})",
                 f"B: {self.b.card.name}  ({self.b.name}; {machine_label(self.primary.b.fingerprint)})"]
        lines += [f"   note on {c.card.name}: {c.card.note}" for c in (self.a, self.b) if c.card.note]
        lines += ["", text_table(self.stage_rows(), "runs", number=lambda v: f"{v:.6g}"), ""]
        if self.model or self.factors:
            lines.append("What differs, most likely cause first:")
            for f in [*self.model, *self.factors]:
                lines.append(f" {'*' if f.consistent else ' '} {f.name}: {f.a}  |  {f.b}")
                lines.append(f"     {f.why}")
            lines.append(" (* can explain the first stage that differs)")
        if self.only_in_one:
            lines.append(f"Not compared (in one card only): {'; '.join(self.only_in_one)}.")
        lines += ["", self.conclusion]
        return "\n".join(lines)


def _result(run: ScriptRun) -> float | None:
    return run.test_accuracy if run.test_accuracy is not None else run.test_loss


def compare_script_cards(a: ScriptCard, b: ScriptCard) -> ScriptComparison:
    """Compare two script cards: the seeded runs first (any machine can make them), then as written."""
    from helpers.core.config import ConfigError

    sets_a, sets_b = a.settings(), b.settings()
    shared = [key for key in sets_a if key in sets_b]
    only = [f"{setting_name(k)} ({card.card.name})" for card, mine, other in ((a, sets_a, sets_b), (b, sets_b, sets_a))
            for k in mine if k not in other]
    if not shared:
        raise ConfigError(f"{a.card.name} and {b.card.name} have no runs of the same setting to compare; make both "
                          "with the same --seed.")
    settings = []
    for key in sorted(shared, key=lambda k: k[0] != "seeded"):
        ra, rb = _representative(sets_a[key]), _representative(sets_b[key])
        settings.append(ScriptSettingComparison(key, ra, rb, compare_stages(ra, rb), parting_layers(ra, rb)))
    primary = settings[0]
    model = model_changes(primary.a, primary.b)
    factors = differing_factors(primary.a, primary.b, primary.first_stage)  # type: ignore[arg-type]
    comparison = ScriptComparison(a, b, settings, primary, model, factors, "", only)
    comparison.conclusion = _conclusion(comparison)
    return comparison


def _conclusion(c: ScriptComparison) -> str:
    p = c.primary
    stage, what = p.first_stage, f"{p.label} runs"
    said = [] if c.same_script else [f"The two cards ran different scripts ({c.a.name} {c.a.sha256[:12]} against "
                                     f"{c.b.name} {c.b.sha256[:12]}): the code itself may explain what differs."]
    likely = next((f for f in [*c.model, *c.factors] if f.consistent), None)
    cause = (f"most likely because of the {likely.name} ({likely.a} against {likely.b})" if likely
             else "and none of the recorded factors that differ can explain it")
    if stage is None:
        said.append(f"Both cards' {what} are bit-identical at every recorded stage.")
    elif stage == "data":
        causes = [f"line {c_['line']} lists files unsorted" for c_ in c.a.facts.get("unsorted_file_listings", [])]
        causes += [f"line {line}'s train_test_split has no seed" for line in
                   c.a.facts.get("unseeded_train_test_splits", [])]
        found = f" In this script: {'; '.join(causes)}." if causes else ""
        said.append(f"The data the first fit trained on already differ ({what}), which one machine cannot show: "
                    f"look for {DATA_CAUSES}.{found}")
    elif stage == "initial weights":
        said.append(f"Same data, but the initial weights already differ ({what}): Keras drew them differently, "
                    f"{cause}.")
    else:
        layers = parting_sentence(p.layers, "") if p.layers else ""
        said.append(f"Same data and initial weights; the {stage} differs ({what}): the arithmetic differs, {cause}."
                    + (f" {layers}" if layers else ""))
    ra, rb = _result(p.a), _result(p.b)
    if ra is not None and rb is not None:
        said.append(f"Test result {ra:.6f} against {rb:.6f}" + ("." if ra == rb else f": {abs(ra - rb):.6f} apart."))
    if c.a.capped or c.b.capped:
        said.append("Training was capped (--max-epochs/--max-steps) in at least one card; the comparison holds for "
                    "the capped training.")
    return " ".join(said)
