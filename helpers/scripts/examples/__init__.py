"""Scripts a learner might write, for the doctor (``python -m helpers check``) and notebook 07.

Data, not lab code: each runs as ``python SCRIPT.py`` would, with NumPy, TensorFlow and
scikit-learn (its bundled digits, no download). Three variants of one model:

* ``digits_unseeded.py`` -- as a learner writes it, without seeds;
* ``digits_seeded.py`` -- with the article's three seed calls (Python, NumPy, TensorFlow);
* ``digits_deterministic.py`` -- with ``keras.utils.set_random_seed`` and op determinism.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
DIGITS_EXAMPLES = {
    "unseeded": HERE / "digits_unseeded.py",
    "seeded": HERE / "digits_seeded.py",
    "deterministic": HERE / "digits_deterministic.py",
}
