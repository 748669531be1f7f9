"""What a machine is and does: its CPU, its fingerprint, the devices TensorFlow sees, oneDNN's levels."""
