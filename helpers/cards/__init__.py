"""Cards, the files two machines compare: making, reading, comparing, imitating, pooling a class's."""
