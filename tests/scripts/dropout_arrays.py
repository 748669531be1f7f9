"""A seeded model with Dropout fed NumPy arrays (Keras shuffles the batches); prints its weights' SHA-256.

The tests run it plainly and under the lab's recorder, and compare. It reads its data from a file
beside it by a relative path, as a learner's script does, so it must run in its own folder.
"""

import hashlib
from pathlib import Path

import numpy as np
import tensorflow as tf

tf.keras.utils.set_random_seed(5)
data = np.loadtxt(Path("data.csv"), delimiter=",", dtype="float32")
x, y = data[:, :-1], data[:, -1].astype("int64")
model = tf.keras.Sequential([
    tf.keras.Input(shape=(x.shape[1],)),
    tf.keras.layers.Dense(16, activation="relu"),
    tf.keras.layers.Dropout(0.5),
    tf.keras.layers.Dense(2, activation="softmax"),
])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=4, batch_size=16, validation_split=0.2, verbose=0)
digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for w in model.get_weights())).hexdigest()
print(f"weights {digest}")
