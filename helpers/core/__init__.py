"""The lab's vocabulary, shared by every part: a run's settings, its stages, its weights, its results.

NumPy at most: nothing here starts TensorFlow, pandas or matplotlib.
"""
