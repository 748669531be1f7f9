# Example 3: Seeded for Reproducibility, Forcing CPU (for comparison)
import tensorflow as tf
from tensorflow import keras
import numpy as np
import os
import random

# Set environment to CPU only
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"

# Set seeds
seed_value = 42
random.seed(seed_value)
np.random.seed(seed_value)
tf.random.set_seed(seed_value)

# Model Definition (same as before)
model = keras.Sequential([
    keras.layers.Dense(128, activation='relu', input_shape=(10,)),
    keras.layers.Dense(10, activation='softmax')
])

# Loss function and optimizer (same as before)
loss_fn = keras.losses.CategoricalCrossentropy()
optimizer = keras.optimizers.Adam()
model.compile(optimizer=optimizer, loss=loss_fn, metrics=['accuracy'])

# Generate synthetic data (same as before)
X_train = np.random.rand(1000, 10)
y_train = np.random.randint(0, 10, (1000, ))
y_train = tf.keras.utils.to_categorical(y_train, num_classes=10)

X_test = np.random.rand(200, 10)
y_test = np.random.randint(0, 10, (200,))
y_test = tf.keras.utils.to_categorical(y_test, num_classes=10)

# Model Training
model.fit(X_train, y_train, epochs=10, batch_size=32, verbose=0)

# Evaluate the model
test_loss, test_accuracy = model.evaluate(X_test, y_test, verbose=0)
print(f"Test accuracy: {test_accuracy}")
