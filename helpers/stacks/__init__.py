"""Other TensorFlow/Keras versions: finding Pythons, building cached environments, running there."""
