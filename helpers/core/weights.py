"""Trained weights as data: bit-exact hashes, a compact JSON-safe encoding, and distances.

A card carries the weights of its seeded runs after every epoch, so two cards from two
machines can be compared by *distance* and not only by hash. The encoding keeps the exact
float32 bits: each snapshot is XOR-ed with the one before it (consecutive epochs share their
sign, exponent and leading mantissa bits, which then become zeros), the bytes are grouped by
significance (all first bytes, then all second bytes, ... as Blosc's shuffle does), and zlib
packs the result into base64 text. For the article's model, 11 snapshots of 2,698 weights
(119 KB raw) become about 115 KB of text.

NumPy only: comparing cards must never start TensorFlow.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

ENCODING = "float32-xor-delta-byteshuffle-zlib-base64"
# A card stays small however long the training: at most this many snapshots per run,
# always including the initial weights (epoch 0) and the last epoch.
MAX_SNAPSHOTS = 21


class WeightsError(ValueError):
    """Encoded weights that cannot be decoded faithfully; the message is one sentence."""


def weights_sha256(weights: Sequence[np.ndarray]) -> str:
    """SHA-256 over the raw bytes of the arrays (weights, or data), in order, C-contiguous.

    Equal hashes mean bit-identical weights; a difference in the last bit of one float
    changes the hash, which is exactly the sensitivity a reproducibility check needs.
    """
    digest = hashlib.sha256()
    for array in weights:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def snapshot_epochs(epochs: int, limit: int = MAX_SNAPSHOTS) -> list[int]:
    """Which epochs to keep (0 = before training): all of them, or ``limit`` spread evenly."""
    if epochs + 1 <= limit:
        return list(range(epochs + 1))
    return sorted({round(i * epochs / (limit - 1)) for i in range(limit)})


def _shuffle(raw: bytes) -> bytes:
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 4).T.tobytes()


def _unshuffle(data: bytes) -> bytes:
    return np.frombuffer(data, dtype=np.uint8).reshape(4, -1).T.tobytes()


def encode(snapshots: Sequence[Sequence[np.ndarray]], epochs: Sequence[int]) -> dict[str, Any]:
    """Snapshots of one model's weights (one list of arrays per epoch in ``epochs``) as JSON-ready data."""
    if len(snapshots) != len(epochs) or not snapshots:
        raise WeightsError("there must be one snapshot per epoch, and at least one.")
    shapes = [list(np.shape(array)) for array in snapshots[0]]
    flat = []
    for snapshot in snapshots:
        if [list(np.shape(a)) for a in snapshot] != shapes:
            raise WeightsError("every snapshot must have the same shapes.")
        flat.append(np.concatenate([np.asarray(a, dtype=np.float32).ravel() for a in snapshot]).view(np.uint32))
    deltas = [flat[0], *(flat[i] ^ flat[i - 1] for i in range(1, len(flat)))]
    packed = zlib.compress(b"".join(_shuffle(d.tobytes()) for d in deltas), 9)
    return {
        "encoding": ENCODING,
        "shapes": shapes,
        "epochs": [int(e) for e in epochs],
        "sha256": [weights_sha256([np.asarray(a, dtype=np.float32) for a in s]) for s in snapshots],
        "data": base64.b64encode(packed).decode("ascii"),
    }


def decode(encoded: dict[str, Any]) -> tuple[list[int], list[list[np.ndarray]]]:
    """Epochs and weight snapshots back from :func:`encode`, each checked against its SHA-256.

    Cards come from strangers: the expected size is known from the shapes before anything is
    inflated, so a crafted payload cannot blow up memory, and every snapshot must hash to what
    the card claims.
    """
    try:
        shapes = [tuple(int(n) for n in shape) for shape in encoded["shapes"]]
        epochs = [int(e) for e in encoded["epochs"]]
        hashes = list(encoded["sha256"])
        if encoded.get("encoding") != ENCODING:
            # Cut short, as config.shown would; that cannot be imported here: other TensorFlow stacks run
            # this module from a copy of a few files (stacks.HARNESS_FILES), without config.
            raise WeightsError("the weights use an encoding this lab does not know "
                               f"({str(encoded.get('encoding'))[:40]!r}).")
        if any(n < 0 for shape in shapes for n in shape) or len(hashes) != len(epochs) or not epochs:
            raise WeightsError("the weights' shapes, epochs and hashes do not fit together.")
        size = sum(math.prod(shape) for shape in shapes)
        expected = 4 * size * len(epochs)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(base64.b64decode(encoded["data"], validate=True), expected + 1)
    except WeightsError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError, binascii.Error, zlib.error) as exc:
        raise WeightsError(f"the weights cannot be decoded ({type(exc).__name__}).") from None
    if len(raw) != expected or inflater.unconsumed_tail:
        raise WeightsError("the weights' data do not have the size their shapes say.")
    block = 4 * size
    snapshots: list[list[np.ndarray]] = []
    previous: np.ndarray | None = None
    for position, claimed in enumerate(hashes):
        delta = np.frombuffer(_unshuffle(raw[position * block:(position + 1) * block]), dtype=np.uint32)
        bits = delta if previous is None else delta ^ previous
        previous = bits
        values = bits.view(np.float32)
        arrays, start = [], 0
        for shape in shapes:
            count = math.prod(shape)
            arrays.append(values[start:start + count].reshape(shape))
            start += count
        if weights_sha256(arrays) != claimed:
            raise WeightsError(f"the weights after epoch {epochs[position]} do not match their SHA-256.")
        snapshots.append(arrays)
    return epochs, snapshots


def max_abs_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """The largest absolute difference between two models' weights (0.0 only if every value is equal)."""
    if [np.shape(x) for x in a] != [np.shape(y) for y in b]:
        raise WeightsError("the two models' weights have different shapes, so they are different models.")
    if not a:
        return 0.0
    return float(max(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)), initial=0.0)
                     for x, y in zip(a, b)))
