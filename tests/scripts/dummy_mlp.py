"""In the spirit of the Keras guide's early examples (written here, not copied): dummy data made with
np.random, an MLP with Dropout, the standalone keras package, no seeds at all. The doctor must find it
not repeatable from the data on, and fixed by keras.utils.set_random_seed before it starts."""

import numpy as np
from keras.layers import Dense, Dropout
from keras.models import Sequential

features = np.random.random((400, 8))
labels = (features[:, 0] > np.random.random(400)).astype("int64")
held_out = np.random.random((80, 8))

network = Sequential([Dense(24, activation="tanh"), Dropout(0.3), Dense(1, activation="sigmoid")])
network.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
network.fit(features, labels, epochs=8, batch_size=40, verbose=0)
score = network.evaluate(held_out, (held_out[:, 0] > 0.5).astype("int64"), verbose=0)
print(score)
