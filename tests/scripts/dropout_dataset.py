"""A seeded model with Dropout fed by tf.data (shuffle, parallel map); prints its trained weights' SHA-256.

The tests run it plainly (``python dropout_dataset.py``) and under the lab's recorder, and compare.
"""

import hashlib
import random

import numpy as np
import tensorflow as tf

random.seed(3)
np.random.seed(3)
tf.random.set_seed(3)

x = np.random.rand(600, 12).astype("float32")
y = (x.sum(axis=1) > 6).astype("int64")
train = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(600)
         .map(lambda a, b: (a * 2.0 - 1.0, b), num_parallel_calls=tf.data.AUTOTUNE).batch(50))
model = tf.keras.Sequential([
    tf.keras.Input(shape=(12,)),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dropout(0.4),
    tf.keras.layers.Dense(2, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, epochs=3, verbose=0)
model.fit(train, epochs=2, verbose=0)  # a second call: the recorder watches every fit
loss, accuracy = model.evaluate(train, verbose=0)
digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for w in model.get_weights())).hexdigest()
print(f"weights {digest}")
print(f"accuracy {accuracy:.6f}")
