"""Writes sequences_x.npy and sequences_y.npy for specs/seq_cnn.yaml (run from the repo root:
`python specs/data/make_sequences.py`); the files are shipped, this says how they were made.

A synthetic task for a 1-D CNN: 600 sequences of 4 channels x 64 steps of Gaussian noise; class
c (0..4) adds a sine of c + 2 periods per sequence, at a random phase and with a random sign in
each channel. Telling the classes apart needs the frequency, not any single value.
"""

import numpy as np

rng = np.random.default_rng(0)
n, channels, length, classes = 600, 4, 64, 5
y = rng.integers(0, classes, n)
t = np.arange(length) / length
phase = rng.uniform(0, 2 * np.pi, (n, channels, 1))
sign = rng.choice([-1.0, 1.0], (n, channels, 1))
wave = sign * np.sin(2 * np.pi * (y[:, None, None] + 2) * t + phase)
x = rng.normal(0, 1.0, (n, channels, length)) + 1.5 * wave
np.save("specs/data/sequences_x.npy", x.astype(np.float16))  # half the bytes; read as float32
np.save("specs/data/sequences_y.npy", y.astype(np.int64))
