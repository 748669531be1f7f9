"""Weights as data: the encoding keeps every bit, and a crafted payload is refused in one sentence."""

from __future__ import annotations

import base64
import hashlib
import zlib

import numpy as np
import pytest

from helpers.core.weights import (
    MAX_SNAPSHOTS,
    WeightsError,
    decode,
    encode,
    max_abs_difference,
    snapshot_epochs,
    weights_sha256,
)

SHAPES = [(10, 4), (4,), (4, 3), (3,)]


def snapshots(count: int, seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    first = [rng.normal(scale=0.1, size=shape).astype(np.float32) for shape in SHAPES]
    out = [first]
    for _ in range(count - 1):
        out.append([w + rng.normal(scale=1e-3, size=w.shape).astype(np.float32) for w in out[-1]])
    return out


def test_round_trip_keeps_every_bit_including_special_values() -> None:
    snaps = snapshots(5)
    specials = np.array([np.nan, np.inf, -np.inf, -0.0], dtype=np.float32)
    snaps[2][1] = specials
    snaps[3][1] = np.array([np.finfo(np.float32).tiny / 8, 1.0, -1.0, 3.4e38], dtype=np.float32)  # a subnormal too
    encoded = encode(snaps, [0, 1, 2, 3, 4])
    epochs, decoded = decode(encoded)
    assert epochs == [0, 1, 2, 3, 4]
    for original, back in zip(snaps, decoded, strict=True):
        for a, b in zip(original, back, strict=True):
            assert a.shape == b.shape and a.tobytes() == b.tobytes()
    assert encoded["sha256"] == [weights_sha256(s) for s in snaps]
    assert set(encoded["data"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def test_the_encoding_is_smaller_than_the_raw_bits() -> None:
    snaps = snapshots(11)
    raw = sum(w.nbytes for s in snaps for w in s)
    encoded = encode(snaps, list(range(11)))
    assert len(base64.b64decode(encoded["data"])) < raw


def test_weights_sha256_is_sha256_of_the_concatenated_bytes() -> None:
    arrays = snapshots(1)[0]
    assert weights_sha256(arrays) == hashlib.sha256(b"".join(a.tobytes() for a in arrays)).hexdigest()
    assert weights_sha256([arrays[0].T]) == hashlib.sha256(np.ascontiguousarray(arrays[0].T).tobytes()).hexdigest()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda e: e.update(encoding="float16"), "an encoding this lab does not know"),
        (lambda e: e.update(data="not base64!"), "cannot be decoded"),
        (lambda e: e.update(data=base64.b64encode(b"junk").decode()), "cannot be decoded"),
        (lambda e: e.update(shapes=[[10, 5], [4], [4, 3], [3]]), "do not have the size their shapes say"),
        (lambda e: e.update(epochs=[0, 1]), "do not fit together"),
        (lambda e: e.update(shapes=[[-1]]), "do not fit together"),
        (lambda e: e["sha256"].__setitem__(1, "0" * 64), "after epoch 1 do not match their SHA-256"),
        (lambda e: e.pop("data"), "cannot be decoded"),
        (lambda e: e.update(shapes="abc"), "cannot be decoded"),
    ],
)
def test_bad_payloads_are_one_sentence(change, fragment: str) -> None:
    encoded = encode(snapshots(3), [0, 1, 2])
    change(encoded)
    with pytest.raises(WeightsError) as caught:
        decode(encoded)
    assert fragment in str(caught.value) and str(caught.value).endswith(".")


def test_a_payload_that_would_inflate_far_beyond_its_shapes_is_refused() -> None:
    # 200 MB of zeros compress to about 200 KB; the shapes promise 4 numbers. Decoding must stop early.
    bomb = base64.b64encode(zlib.compress(b"\0" * 200_000_000, 9)).decode()
    encoded = {"encoding": encode(snapshots(1), [0])["encoding"], "shapes": [[4]], "epochs": [0],
               "sha256": ["0" * 64], "data": bomb}
    with pytest.raises(WeightsError, match="do not have the size their shapes say"):
        decode(encoded)


def test_snapshot_epochs_keep_the_first_and_last_and_stay_few() -> None:
    assert snapshot_epochs(10) == list(range(11))
    many = snapshot_epochs(500)
    assert len(many) <= MAX_SNAPSHOTS and many[0] == 0 and many[-1] == 500 and many == sorted(set(many))


def test_max_abs_difference() -> None:
    a = snapshots(1)[0]
    b = [w.copy() for w in a]
    assert max_abs_difference(a, b) == 0.0
    b[2][1, 1] += np.float32(0.5)
    assert max_abs_difference(a, b) == pytest.approx(0.5, rel=1e-6)
    with pytest.raises(WeightsError, match="different shapes"):
        max_abs_difference(a, a[:2])
