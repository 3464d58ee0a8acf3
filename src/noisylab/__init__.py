"""noisylab: learning with noisy labels.

Simulate label noise (``noisylab.noise``), train robust ensembles (``noisylab.losses``,
``noisylab.optim``, ``noisylab.train``), compare representations (``noisylab.similarity``)
and reproduce five papers' claims with one command (``noisylab reproduce``).
"""

__version__ = "0.1.0"
