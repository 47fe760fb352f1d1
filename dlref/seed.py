"""Make runs repeatable.

Explained on the page [A feedforward network in PyTorch](../projects/feedforward-network.md).
"""

import random

import numpy as np
import torch

from dlref import checks


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random generators (all devices) with ``seed``.

    Two runs of the same code with the same seed on the same device draw the same weights, the
    same batches and the same dropout masks. (Some GPU kernels are still non-deterministic; CPU
    runs repeat exactly.)

    Args:
        seed: A non-negative integer below 2**32.

    Raises:
        TypeError: If ``seed`` is not an integer.
        ValueError: If ``seed`` is outside ``[0, 2**32)``.
    """
    checks.integer("set_seed", "seed", seed, 0, 2**32)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the global generator is what copied code uses
    torch.manual_seed(seed)  # seeds every CUDA device too
