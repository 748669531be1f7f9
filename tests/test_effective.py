"""What really ran, checked against TensorFlow and Keras themselves (issue: record what really ran).

Each oneDNN state is forced with TF_ENABLE_ONEDNN_OPTS, so the tests hold on any x86 machine (CI's
CPU may lack VNNI, and then oneDNN's operations are off there by default); no hash is hard-coded.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from helpers.cards.compare import compare_cards
from helpers.cards.fileformat import card_document, card_from_document, parse_document
from helpers.cards.imitate import imitate
from helpers.cards.making import make_cards
from helpers.core.config import RunConfig
from helpers.machines.cpu import cpu_info
from helpers.machines.onednn import AI_FLAGS, best_level
from helpers.running.runner import run_configs

FLAGS = cpu_info()["vector_flags"]
x86_with_onednn = pytest.mark.skipif(best_level(FLAGS) is None, reason="oneDNN's levels are x86's")


@pytest.fixture(scope="module")
def forced_runs() -> dict[str, object]:
    configs = {
        "on": RunConfig(epochs=1, env=(("TF_ENABLE_ONEDNN_OPTS", "1"),)),
        "off": RunConfig(epochs=1, env=(("TF_ENABLE_ONEDNN_OPTS", "0"),)),
        "sse41": RunConfig(epochs=1, env=(("ONEDNN_MAX_CPU_ISA", "sse41"),)),
    }
    return dict(zip(configs, run_configs(list(configs.values()), progress=False), strict=True))


@pytest.mark.slow
@x86_with_onednn
def test_each_run_records_tensorflows_own_answer(forced_runs: dict) -> None:
    on, off = forced_runs["on"].fingerprint["effective"], forced_runs["off"].fingerprint["effective"]
    assert (on["onednn_enabled"], off["onednn_enabled"]) == (True, False)
    assert on["onednn_from"] == off["onednn_from"] == "TensorFlow"
    assert on["onednn_why"] == "TF_ENABLE_ONEDNN_OPTS=1" and off["onednn_why"] == "TF_ENABLE_ONEDNN_OPTS=0"
    assert on["onednn_features"] == [f for f in AI_FLAGS if f in FLAGS]


@pytest.mark.slow
@x86_with_onednn
def test_the_instruction_set_is_the_one_onednn_reported(forced_runs: dict) -> None:
    """oneDNN 3.x prints its header (and only that) to the worker, which keeps the level it names; it
    dispatches there even with its custom operations off (matrix products go through its GEMM)."""
    for name in ("on", "off"):
        effective = forced_runs[name].fingerprint["effective"]
        assert (effective["isa"], effective["isa_from"]) == (best_level(FLAGS), "oneDNN")
    capped = forced_runs["sse41"].fingerprint["effective"]
    assert (capped["isa"], capped["isa_from"], capped["isa_cap"]) == ("SSE41", "oneDNN", "SSE41")


@pytest.mark.slow
def test_runs_compile_as_the_article_does(forced_runs: dict) -> None:
    """No GPU here, so Keras's "auto" resolves to no XLA, and the run says so."""
    for run in forced_runs.values():
        assert run.config.jit_compile is None and run.xla is False
        assert run.fingerprint["effective"]["jit_compile"] is False


@pytest.mark.slow
def test_with_a_gpu_in_tensorflows_device_list_keras_compiles_with_xla(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras 3 turns XLA on whenever TensorFlow lists a GPU: the lab's run must do what the article's
    `model.compile(...)` does there, and record it. The device list is faked (no GPU here)."""
    tf = pytest.importorskip("tensorflow")
    from helpers.running.experiment import build_model, run_experiment
    from helpers.running.worker import with_run_settings

    # A run before the GPU appears keeps its compiled model (helpers.running.reuse); it was compiled without XLA,
    # so the run after must build its own (in one process since the start, this test never saw that bug).
    assert run_experiment(RunConfig(epochs=1))["xla"] is False
    real = tf.config.list_physical_devices
    fake_gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")

    def listing(device_type: str | None = None) -> list:
        devices = real(device_type)
        return [*devices, fake_gpu] if device_type in (None, "GPU") else devices

    monkeypatch.setattr(tf.config, "list_physical_devices", listing)
    article = tf.keras.Sequential([tf.keras.Input((10,)), tf.keras.layers.Dense(10, activation="softmax")])
    article.compile(optimizer="adam", loss="categorical_crossentropy")  # the article's call: jit_compile left alone
    assert article.jit_compile is True
    result = run_experiment(RunConfig(epochs=1))
    assert result["xla"] is True
    assert with_run_settings({"effective": {}}, None, result["xla"])["effective"]["jit_compile"] is True
    assert run_experiment(RunConfig(epochs=1, jit_compile=False))["xla"] is False  # refused explicitly
    assert build_model(jit_compile=False).jit_compile is False


def _as_a_cpu_without_vnni(card_path: Path, out: Path) -> Path:
    """The card, edited to look like one from a Linux AVX-512 CPU without VNNI, BF16 or AMX, whose oneDNN
    was off by TensorFlow's default: no TF_ENABLE_ONEDNN_OPTS anywhere in its records."""
    document = json.loads(card_path.read_text(encoding="utf-8"))
    for holder in [document["machine"], *(run["fingerprint"] for run in document["runs"])]:
        holder["cpu"] = {**holder["cpu"], "model": "Intel Xeon (Skylake-SP)",
                         "vector_flags": [f for f in holder["cpu"]["vector_flags"] if f not in AI_FLAGS]}
    for run in document["runs"]:
        fingerprint = run["fingerprint"]
        fingerprint["env"]["TF_ENABLE_ONEDNN_OPTS"] = None
        run["config"]["env"].pop("TF_ENABLE_ONEDNN_OPTS", None)
        fingerprint["effective"].update(onednn_enabled=False, onednn_from="TensorFlow", onednn_features=[],
                                        onednn_why="a Linux x86 CPU without AVX-512 VNNI, AVX-512 BF16, AVX-VNNI "
                                                   "or AMX", isa="AVX512_CORE", isa_from="oneDNN")
    document["command"] = "python -m helpers card --out card-skylake.json"
    out.write_text(json.dumps(document), encoding="utf-8")
    return out


@pytest.mark.slow
@pytest.mark.skipif(not {"avx512f", "avx512bw", "avx512vl"} <= set(FLAGS), reason="needs an AVX-512 CPU here")
def test_a_card_from_a_cpu_without_vnni_is_reproduced_and_explained(tmp_path: Path) -> None:
    here, there = make_card_pair(tmp_path)
    imitation = imitate(there, progress=False)
    assert imitation.match is not None, imitation.text()
    assert dict(imitation.match.settings.env).get("TF_ENABLE_ONEDNN_OPTS") == "0"
    comparison = compare_cards(here, there)
    top = comparison.factors[0]
    assert top.name == "oneDNN custom operations", comparison.text()
    assert top.a.startswith("on (TF_ENABLE_ONEDNN_OPTS=1") and top.b.startswith("off (a Linux x86 CPU without")
    assert "instruction set oneDNN used" in [f.name for f in comparison.factors]


def make_card_pair(tmp_path: Path) -> tuple[Path, Path]:
    """This machine with oneDNN forced on, and the one forced off dressed as a VNNI-less machine."""
    on, off = tmp_path / "card-here.json", tmp_path / "card-off.json"
    make_cards([{"path": on, "epochs": 3, "env": {"TF_ENABLE_ONEDNN_OPTS": "1"}},
                {"path": off, "epochs": 3, "env": {"TF_ENABLE_ONEDNN_OPTS": "0"}}], progress=False)
    return on, _as_a_cpu_without_vnni(off, tmp_path / "card-skylake.json")


def test_an_edited_card_still_loads(tmp_path: Path) -> None:
    """The edit above keeps a card valid (it is checked against the schema like any other)."""
    from tests.conftest import make_fingerprint, make_result

    fingerprint = make_fingerprint(effective={"onednn_enabled": True, "onednn_from": "TensorFlow",
                                              "onednn_why": "x", "onednn_features": [], "isa": "AVX2",
                                              "isa_from": "oneDNN", "isa_cap": None, "jit_compile": False})
    document = card_document([make_result("a", fingerprint=copy.deepcopy(fingerprint))], "test")
    card = card_from_document(parse_document(json.dumps(document), "c.json"), "c.json")
    assert card.runs[0].fingerprint["effective"]["isa"] == "AVX2"

