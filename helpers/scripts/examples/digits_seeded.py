"""Handwritten digits, seeded the way the article's Example 2 seeds: Python, NumPy and TensorFlow.

scikit-learn's bundled 8x8 digit images (no download), a small convolutional network with Dropout,
and a tf.data pipeline with a shuffle and a parallel map. Every run splits the data, draws the
initial weights, shuffles the batches and drops units differently -- unless seeded, as here.
"""

import random

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tensorflow import keras

seed_value = 42
random.seed(seed_value)
np.random.seed(seed_value)
tf.random.set_seed(seed_value)

digits = load_digits()
x_train, x_test, y_train, y_test = train_test_split(digits.images, digits.target, test_size=0.2)


def prepare(image, label):
    # Grey levels 0..16 to 0..1, and one channel for the convolution.
    return tf.expand_dims(tf.cast(image, tf.float32) / 16.0, -1), label


train = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
         .shuffle(len(x_train))
         .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
         .batch(32)
         .prefetch(tf.data.AUTOTUNE))
test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).map(prepare).batch(128)

model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
    keras.layers.MaxPooling2D(),
    keras.layers.Dropout(0.25),
    keras.layers.Flatten(),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dropout(0.3),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, epochs=10, verbose=0)

test_loss, test_accuracy = model.evaluate(test, verbose=0)
print(f"Test accuracy: {test_accuracy:.4f} ({np.size(y_test)} test digits)")
