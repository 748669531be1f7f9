# Example 1: No Seed, Demonstrating Potential Variance
import tensorflow as tf
from tensorflow import keras
import numpy as np

# Model Definition
model = keras.Sequential([
    keras.layers.Dense(128, activation='relu', input_shape=(10,)),
    keras.layers.Dense(10, activation='softmax')
])

# Loss function and optimizer
loss_fn = keras.losses.CategoricalCrossentropy()
optimizer = keras.optimizers.Adam()
model.compile(optimizer=optimizer, loss=loss_fn, metrics=['accuracy'])

# Generate synthetic data
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
