"""RunConfig validation: every bad value gets one sentence that says what to do."""

from __future__ import annotations

import pytest

from helpers.core.config import DEFAULT_SEED, SEED_CALLS, ConfigError, RunConfig, check_repeats


def test_modes_map_to_the_article_examples() -> None:
    assert RunConfig.for_mode("unseeded").seed is None
    assert RunConfig.for_mode("seeded").seed == DEFAULT_SEED
    cpu = RunConfig.for_mode("cpu", seed=7)
    assert (cpu.seed, cpu.device, cpu.mode) == (7, "cpu", "cpu")
    assert [RunConfig.for_mode(m).mode for m in ("unseeded", "seeded", "cpu")] == ["unseeded", "seeded", "cpu"]


def test_dropping_every_seed_call_is_unseeded() -> None:
    assert RunConfig(seed=42, seed_calls=()).mode == "unseeded"
    assert RunConfig(seed=42, seed_calls=("numpy",)).mode == "seeded"


def test_seed_calls_keep_the_articles_order() -> None:
    assert RunConfig(seed_calls=("tensorflow", "python")).seed_calls == ("python", "tensorflow")
    assert RunConfig().seed_calls == SEED_CALLS


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"seed": -1}, "seed must be from 0"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"seed": True}, "seed must be a whole number"),
        ({"task": "mnist"}, "task must be one of article, learnable"),
        ({"device": "tpu"}, "device must be one of auto, cpu, gpu"),
        ({"epochs": 0}, "epochs must be from 1"),
        ({"batch_size": 5000}, "batch size must be from 1 to 1000"),
        ({"seed_calls": ("torch",)}, "each seed call must be one of python, numpy, tensorflow"),
        ({"seed_calls": ("numpy", "numpy")}, "must not repeat"),
        ({"op_determinism": "yes"}, "op_determinism must be True or False"),
        ({"env": (("CUDA_VISIBLE_DEVICES", "-1"),)}, "set the device and the seed with their own settings"),
        # Huge or strange values are quoted short and escaped (found by Hypothesis): still one sentence.
        ({"op_determinism": [(None, None)] * 500}, "not [(None, None), (None, None), (None, None), (None, None), ...]"),
        ({"seed": 10**5000}, "seed must be from 0 to 4294967295, not a number too long to show."),
        ({"seed": 10**50}, "not 100000000000000000...0000000000000000000."),
        ({"env": (("A\nB", "x" * 10_000),)}, "not 'A\\nB'='xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx'."),
    ],
)
def test_bad_values_get_one_sentence(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RunConfig(**kwargs)
    message = str(caught.value)
    assert fragment in message
    assert message.endswith(".") and "\n" not in message and len(message) < 200


def test_bad_mode_and_missing_seed() -> None:
    with pytest.raises(ConfigError, match="mode must be one of unseeded, seeded, cpu"):
        RunConfig.for_mode("gpu")
    with pytest.raises(ConfigError, match="needs a seed"):
        RunConfig.for_mode("seeded", seed=None)


def test_repeats_are_checked() -> None:
    assert check_repeats(3) == 3
    for bad in (0, 51, "3", 2.0):
        with pytest.raises(ConfigError):
            check_repeats(bad)


def test_round_trip_through_dict() -> None:
    config = RunConfig(seed=3, task="learnable", device="cpu", epochs=4, batch_size=16,
                       seed_calls=("numpy", "tensorflow"), op_determinism=True,
                       env=(("ONEDNN_MAX_CPU_ISA", "AVX2"),))
    assert RunConfig.from_dict(config.to_dict()) == config
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in config.label
