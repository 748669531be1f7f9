"""Trains a tiny model; when seeded from outside (keras.utils.set_random_seed(42) before it starts) it then
sleeps for two minutes. The tests stop a card with Ctrl-C while it sleeps: the run as written is kept."""

import random
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

seeded = random.random() == random.Random(42).random()
x = np.ones((16, 3), "float32")
model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, x[:, :1], epochs=1, verbose=0)
if seeded:
    time.sleep(120)
else:
    Path("finished-as-written").write_text("yes\n")
