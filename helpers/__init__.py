"""keras-repro-lab: why the same Keras model gives a different test accuracy on another machine.

Everything a notebook, a learner or a teacher uses is importable from here::

    from helpers import RunConfig, run_configs, make_card, compare_cards, imitate

The names are imported lazily, on first use: ``import helpers`` costs no TensorFlow, pandas or
matplotlib, and a worker process that only trains a model never pays for the figures or the
widgets. The internals live in subpackages named for their job (``core``, ``machines``,
``running``, ``cards``, ``training``, ``scripts``, ``stacks``, ``views``, ``cli``, ``article``); see
docs/how-it-works.md for the map.
"""

# Python runs this file first for `python -m helpers`, also on a Python too old for the lab: it must
# parse and run there (no newer syntax), so that helpers/__main__.py can refuse in one sentence.
import importlib
from typing import Any, Dict, List

__version__ = "0.1.0"
DISTRIBUTION = "keras-repro-lab"  # the name pip knows the lab by (the notebooks' setup cell checks it)

# Public name -> the module that defines it. No public name may be the name of a module or
# package directly under helpers/: importing that module would replace the name on this package.
_EXPORTS: Dict[str, str] = {
    # settings and results
    **dict.fromkeys(("RunConfig", "ConfigError", "MODES", "TASKS", "DEFAULT_SEED"), "helpers.core.config"),
    **dict.fromkeys(("STAGES", "compare_stages", "first_differing_stage"), "helpers.core.stages"),
    **dict.fromkeys(("RunResult", "Verdict", "all_identical", "all_differ", "same_weights", "accuracy_agrees",
                     "select", "to_frame", "summary_by_label", "same_correct_count", "correct_count"),
                    "helpers.core.results"),
    "weights_sha256": "helpers.core.weights",
    # this machine
    **dict.fromkeys(("fingerprint", "fingerprint_table", "machine_label"), "helpers.machines.fingerprint"),
    **dict.fromkeys(("device_report", "force_cpu_here", "force_cpu_in_a_new_script", "select_gpu"),
                    "helpers.machines.devices"),
    **dict.fromkeys(("effective_settings", "onednn_words", "isa_words"), "helpers.machines.fingerprint"),
    # running the experiment
    **dict.fromkeys(("run_configs", "run_mode", "RunError", "RunInterrupted", "interrupted_runs"),
                    "helpers.running.runner"),
    "end_kept_workers": "helpers.running.kept",
    **dict.fromkeys(("run_experiment", "build_model", "make_data"), "helpers.running.experiment"),
    "hash_in_a_new_interpreter": "helpers.running.seeding",
    **dict.fromkeys(("run_audit", "audit_verdicts", "device_sentence"), "helpers.running.audit"),
    "EXAMPLES": "helpers.article",
    # cards, across machines
    **dict.fromkeys(("make_card", "make_cards"), "helpers.cards.making"),
    **dict.fromkeys(("Card", "load_card"), "helpers.cards.fileformat"),
    # compare_cards and imitate take the article's cards and script cards alike (helpers.cards.dispatch)
    **dict.fromkeys(("compare_cards", "imitate"), "helpers.cards.dispatch"),
    "Comparison": "helpers.cards.compare",
    "Imitation": "helpers.cards.imitate",
    **dict.fromkeys(("pool_cards", "pool_folder", "make_demo_cards", "DEMO_PARTICIPANTS", "Workshop"),
                    "helpers.cards.workshop"),
    **dict.fromkeys(("offer_download", "upload_cards"), "helpers.cards.colab"),
    # the learner's own script
    **dict.fromkeys(("check_script", "ScriptCheck"), "helpers.scripts.doctor"),
    "DIGITS_EXAMPLES": "helpers.scripts.examples",
    **dict.fromkeys(("make_script_card", "card_from_check", "script_card", "ScriptCard"),
                    "helpers.cards.script_cards"),
    "ScriptComparison": "helpers.cards.script_compare",
    **dict.fromkeys(("imitate_script", "ScriptImitation"), "helpers.cards.script_imitate"),
    # over training and versions
    **dict.fromkeys(("diverge", "run_b", "Divergence"), "helpers.training.diverge"),
    **dict.fromkeys(("train_in_this_kernel", "stages_against", "moved_generators", "stage_table",
                     "generator_states"), "helpers.training.in_kernel"),
    **dict.fromkeys(("Stack", "run_stacks", "StackReport"), "helpers.stacks.report"),
    **dict.fromkeys(("stacks_folder",), "helpers.stacks.environments"),
    **dict.fromkeys(("stack_for_card", "run_in_stack"), "helpers.stacks.runs"),
    # what a learner sees
    **dict.fromkeys(("plot_accuracy", "plot_identity_matrix", "plot_loss_curves"), "helpers.views.run_plots"),
    **dict.fromkeys(("plot_comparison", "plot_workshop_accuracy", "plot_workshop_identity"),
                    "helpers.views.card_plots"),
    **dict.fromkeys(("plot_divergence", "plot_stacks"), "helpers.views.training_plots"),
    "ControlPanel": "helpers.views.panel",
    "setup_notebook": "helpers.views.setup",
    **dict.fromkeys(("accuracy_spread", "Spread"), "helpers.scripts.spread"),
    **dict.fromkeys(("resume_check",), "helpers.training.resume"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted({*globals(), *_EXPORTS})
