"""Resuming after a disconnect: is 5 + 5 epochs, saved and loaded between two sessions, 10 epochs?

Colab ends idle sessions, so learners train in pieces: fit, save, reconnect, load, fit again. Each
piece here runs in a fresh Python process, as a new session would, and the article's model
trained in one go is compared with the same training resumed three ways: from ``model.save`` (the
model *and* its optimizer's state) with the seeds set again; from the weights alone; and without
TensorFlow's seed in the second session.

Run as ``python -m helpers.training.resume PHASE ...`` by :func:`resume_check`; not by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.core.config import DEFAULT_SEED, ConfigError, RunConfig
from helpers.core.results import Verdict

TIMEOUT = 600
# How the second session starts, each against training in one go.
WAYS = {
    "model.save, seeds set again, initial_epoch": "the whole model (with the optimizer's state)",
    "weights only (save_weights)": "the weights alone: the optimizer's state is lost",
    "model.save, without tf.random.set_seed": "the whole model, but TensorFlow's seed not set again",
}


def _phase(argv: Sequence[str]) -> dict[str, Any]:
    """One session: train from scratch or from a saved file, then save; returns the weights' hash."""
    phase, epochs, start, path, way = argv[0], int(argv[1]), int(argv[2]), Path(argv[3]), argv[4]
    from helpers.running.experiment import build_model, leave_out_what_the_article_does_not_use, make_data

    leave_out_what_the_article_does_not_use()  # a session runs only the article's model
    import tensorflow as tf

    from helpers.core.weights import weights_sha256
    from helpers.running.seeding import apply_seeds

    calls = ("python", "numpy") if "without tf.random.set_seed" in way else ("python", "numpy", "tensorflow")
    apply_seeds(RunConfig(seed=DEFAULT_SEED, seed_calls=calls))
    if phase == "first":
        model = build_model()
        x_train, y_train, _, _ = make_data("article")
    else:
        if way.startswith("weights only"):
            model = build_model()
            model.load_weights(str(path) + ".weights.h5")
        else:
            model = tf.keras.models.load_model(path)
        x_train, y_train, _, _ = make_data("article")
    model.fit(x_train, y_train, epochs=start + epochs, initial_epoch=start, batch_size=32, verbose=0)
    model.save(path)
    model.save_weights(str(path) + ".weights.h5")
    return {"weights_sha256": weights_sha256(model.get_weights())}


def _session(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "helpers.training.resume", *args], capture_output=True, text=True,
                          timeout=TIMEOUT)
    if done.returncode != 0:
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        raise ConfigError(f"a training session failed: {last.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class Resumption:
    """Training in one go against the same training in two sessions, each way of resuming."""

    epochs: int
    split: int
    one_go: str
    resumed: dict[str, str]  # way -> weights hash

    def table(self) -> Any:
        import pandas as pd

        rows = [{"second session starts from": way, "what it restores": WAYS[way],
                 "same weights as one go": weights == self.one_go, "weights": weights[:12]}
                for way, weights in self.resumed.items()]
        return pd.DataFrame(rows).set_index("second session starts from")

    def verdicts(self) -> list[Verdict]:
        same = self.resumed["model.save, seeds set again, initial_epoch"] == self.one_go
        lost = self.resumed["weights only (save_weights)"] != self.one_go
        return [
            Verdict(f"{self.split} + {self.epochs - self.split} epochs resumed from model.save with the seeds set "
                    f"again: the weights of {self.epochs} epochs in one go", same),
            Verdict("resumed from the weights alone (the optimizer's state lost): other weights", lost),
        ]


def resume_check(epochs: int = 10, split: int = 5) -> Resumption:
    """The article's model trained ``epochs`` in one session, and ``split`` + the rest in two, each way."""
    if not 0 < split < epochs:
        raise ConfigError(f"split must be between 0 and {epochs} epochs, not {split}.")
    with tempfile.TemporaryDirectory(prefix="repro-lab-resume-") as folder:
        first = Path(folder) / "first.keras"
        with ThreadPoolExecutor(max_workers=2) as pool:
            whole = pool.submit(_session, "first", str(epochs), "0", str(Path(folder) / "whole.keras"), "-")
            _session("first", str(split), "0", str(first), "-")
            later = {way: pool.submit(_session, "resume", str(epochs - split), str(split),
                                      str(_copy(first, Path(folder) / f"resume-{i}.keras")), way)
                     for i, way in enumerate(WAYS)}
            one_go = whole.result()["weights_sha256"]
            resumed = {way: future.result()["weights_sha256"] for way, future in later.items()}
    return Resumption(epochs, split, one_go, resumed)


def _copy(source: Path, target: Path) -> Path:
    import shutil

    shutil.copyfile(source, target)
    shutil.copyfile(str(source) + ".weights.h5", str(target) + ".weights.h5")
    return target


if __name__ == "__main__":
    print(json.dumps(_phase(sys.argv[1:])), flush=True)
    from helpers.running.worker import end_now

    end_now()  # the session's files are saved and closed; TensorFlow's shutdown would only cost CPU
