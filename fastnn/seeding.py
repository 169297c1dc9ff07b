"""Random generators from a `seed`: an integer seeds NumPy's default_rng; a legacy
np.random.RandomState is used as given, so the course's np.random.seed(s) draws come out
bit for bit."""

import numpy as np

from .validation import check_seed


def random_generator(seed):
    """The generator to draw from: `seed` itself when it is a RandomState (advanced by every
    draw, as scikit-learn does with random_state), else np.random.default_rng(seed)."""
    check_seed(seed)
    return seed if isinstance(seed, np.random.RandomState) else np.random.default_rng(seed)
