"""Other TensorFlow stacks side by side: the article's Example 2, as written, under each, stage by stage.

This kernel's own stack always runs first, the same way as the others (the article's script in a
fresh process), so the rows compare like with like; then each stack asked for, built once and
cached (:mod:`helpers.stacks.environments`). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.core.config import ConfigError
from helpers.core.results import Verdict
from helpers.core.stages import compare_stages, first_differing_stage
from helpers.stacks.environments import (
    Stack,
    StackError,
    StackResult,
    build,
    cached,
    choose_python,
)
from helpers.stacks.harness import fill, own_stack, run_article
from helpers.stacks.installers import env_python


def build_command(stacks: Sequence[Stack]) -> str:
    """The CLI command that builds and runs ``stacks``."""
    words = ["python -m helpers stacks --tensorflow", *(s.tensorflow for s in stacks)]
    if any(s.keras for s in stacks):
        words += ["--keras", *(s.keras or "auto" for s in stacks)]
    pythons = {s.python for s in stacks if s.python}
    if pythons:
        words += ["--python", sorted(pythons)[0]]
    return "`" + " ".join(words) + "`"


@dataclass
class StackReport:
    """This kernel's stack first, then every stack asked for, in order; and what changed at each step."""

    results: list[StackResult]
    notes: list[str] = field(default_factory=list)

    @property
    def ran(self) -> list[StackResult]:
        return [r for r in self.results if r.ran]

    def table(self) -> Any:
        """One column per stack, one row per version and stage (a DataFrame)."""
        import pandas as pd

        rows = {
            "TensorFlow": "tensorflow", "Keras": "keras", "Python": "python", "NumPy": "numpy",
            "data": "data_sha256", "initial weights": "initial_weights_sha256", "trained weights": "weights_sha256",
            "test accuracy": "test_accuracy", "test loss": "test_loss", "run (s)": "run_seconds",
            "build (s)": "build_seconds", "disk (GB)": "disk_bytes",
        }
        columns = {}
        for position, result in enumerate(self.results):
            values = {}
            for row, key in rows.items():
                value = getattr(result, key)
                if key.endswith("sha256") and value:
                    value = value[:12]
                elif key == "disk_bytes" and value:
                    value = round(value / 1e9, 2)
                elif key == "build_seconds" and result.cached and not result.own:
                    value = "cached"
                values[row] = "" if value is None else value
            if result.error:
                values["TensorFlow"] = values["TensorFlow"] or result.tensorflow or ""
                values["data"] = "did not run"
            name = result.label if not result.ran or result.own else _stack_name(result)
            columns[f"{position}: {name}"] = values
        return pd.DataFrame(columns)

    def steps(self) -> list[tuple[StackResult, StackResult, list[str]]]:
        """For each pair of neighbouring stacks that ran: what each stage did."""
        ran = self.ran
        return [(a, b, stage_changes(a, b)) for a, b in zip(ran, ran[1:])]

    def verdicts(self) -> list[Verdict]:
        """Per version step, one verdict per stage: does the newer stack keep what the older one gave?"""
        found = []
        for a, b, _ in self.steps():
            step = f"{_stack_name(a)} -> {_stack_name(b)}"
            for stage, key in (("same data values", "data_values_sha256"), ("same data bytes", "data_sha256"),
                               ("same initial weights", "initial_weights_sha256"),
                               ("same trained weights", "weights_sha256"), ("same test accuracy", "test_accuracy")):
                found.append(Verdict(f"{step}: {stage}", getattr(a, key) == getattr(b, key),
                                     f"{getattr(a, key)} vs {getattr(b, key)}"))
        return found

    def first_changes(self) -> list[str]:
        """Per version step, one line: the first stage where the two stacks' runs part, and what else changed."""
        lines = []
        for a, b, changes in self.steps():
            stage = first_changed_stage(a, b)
            first = "same bits at every stage" if stage is None else f"first stage that differs: {stage}"
            lines.append(f"{_stack_name(a)} -> {_stack_name(b)}: {first} ({'; '.join(changes)})")
        return lines

    def errors(self) -> list[str]:
        return [f"{r.label}: {r.error}" for r in self.results if r.error]

    def text(self) -> str:
        lines = [self.table().to_string(), "", *self.first_changes(), *self.errors(), *self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"stacks": [r.to_dict() for r in self.results],
                "steps": [{"from": _stack_name(a), "to": _stack_name(b),
                           "first_changed_stage": first_changed_stage(a, b), "changes": changes}
                          for a, b, changes in self.steps()],
                "errors": self.errors(), "notes": self.notes}


def _stack_name(result: StackResult) -> str:
    return f"TF {result.tensorflow} / Keras {result.keras} / Py {'.'.join((result.python or '?').split('.')[:2])}"


def first_changed_stage(a: StackResult, b: StackResult) -> str | None:
    """The first stage (data by value, initial weights, training, evaluation) that differs; None: none."""
    return first_differing_stage(compare_stages(a, b))


def stage_changes(a: StackResult, b: StackResult) -> list[str]:
    """What happened at each stage between two stacks' runs, in words."""
    said = []
    if a.data_sha256 == b.data_sha256:
        said.append("data identical")
    elif a.data_values_sha256 and a.data_values_sha256 == b.data_values_sha256:
        types = f"{'/'.join(sorted(set(a.data_dtypes or [])))} -> {'/'.join(sorted(set(b.data_dtypes or [])))}"
        said.append(f"data: same values, stored differently ({types})")
    else:
        said.append("data differ")
    same_start = a.initial_weights_sha256 == b.initial_weights_sha256
    said.append("initial weights " + ("identical" if same_start else "differ"))
    said.append("trained weights " + ("identical" if a.weights_sha256 == b.weights_sha256 else "differ"))
    if a.test_accuracy == b.test_accuracy:
        said.append(f"test accuracy equal ({a.test_accuracy:.6g})")
    else:
        said.append(f"test accuracy {a.test_accuracy:.6g} -> {b.test_accuracy:.6g}")
    return said


def _not_built(stack: Stack) -> StackResult:
    return StackResult(label=stack.label, tensorflow=stack.tensorflow, keras=stack.keras,
                       error=f"not built on this machine yet: {build_command([stack])} builds it once (seconds "
                             "with uv, a minute or two with pip; about 1.2 GB on disk).")


def _prepare(stack: Stack, build_missing: bool) -> StackResult:
    """The stack's environment, cached or built now; or a result carrying the sentence why not."""
    try:
        choose_python(stack.tensorflow, stack.python)  # no fitting Python: say so, built or not
        found = cached(stack)
        if found is None:
            found = build(stack) if build_missing else _not_built(stack)
    except StackError as exc:
        found = StackResult(label=stack.label, tensorflow=stack.tensorflow, keras=stack.keras, error=str(exc))
    found.label = stack.label
    return found


def _run(prepared: StackResult) -> StackResult:
    if prepared.error:
        return prepared
    try:
        return fill(prepared, run_article(env_python(Path(prepared.environment or ""))))
    except StackError as exc:
        prepared.error = str(exc)
        return prepared


def run_stacks(stacks: Sequence[Stack], *, build_missing: bool = True, parallel: int | None = None,
               include_own: bool = True) -> StackReport:
    """This kernel's stack, then each of ``stacks``: built once (cached) and run in fresh processes.

    Builds happen one at a time (they download); the runs go ``parallel`` at a time (default:
    the cores), each a fresh process with TensorFlow's default threads, as the article's script.
    A stack that cannot be built or run says why in its result's ``error``; the others go on.
    """
    stacks = list(stacks)
    for stack in stacks:
        if not isinstance(stack, Stack):
            raise ConfigError(f"each stack must be a Stack, not {type(stack).__name__}.")
    prepared = [_prepare(stack, build_missing) for stack in stacks]
    if parallel is None:
        parallel = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    jobs: list[StackResult | None] = ([None] if include_own else []) + prepared
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        results = list(pool.map(lambda job: own_stack() if job is None else _run(job), jobs))
    return StackReport(results)
