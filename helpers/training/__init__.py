"""Over training: two runs compared step by step, and training the way a notebook cell does."""
