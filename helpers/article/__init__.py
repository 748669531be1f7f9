"""The article's three examples, kept verbatim, and a harness that runs one as a script.

``python -m helpers.article 2`` runs ``example2_seeded.py`` exactly as a reader would run it
(``python example2_seeded.py``), then reports its test accuracy, test loss and the SHA-256 of
its data, of its weights before the first training step and of its trained weights as one JSON
line, so the lab's own runs can be checked against it, on this stack or on another
(:mod:`helpers.stacks.report`). It needs only NumPy and the script's TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

EXAMPLES = {
    1: Path(__file__).with_name("example1_unseeded.py"),
    2: Path(__file__).with_name("example2_seeded.py"),
    3: Path(__file__).with_name("example3_cpu_forced.py"),
}
