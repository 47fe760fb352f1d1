"""Make runs repeatable."""

import random

import numpy as np
import torch


# --8<-- [start:set-seed]
def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random generators (all devices) with ``seed``.

    Two runs of the same code with the same seed on the same device draw the same weights, the
    same batches and the same dropout masks. (Some GPU kernels are still non-deterministic; CPU
    runs repeat exactly.)

    Args:
        seed: A non-negative integer below 2**32.

    Raises:
        ValueError: If ``seed`` is not an integer in ``[0, 2**32)``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"set_seed expects an integer in [0, 2**32), got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the global generator is what copied code uses
    torch.manual_seed(seed)  # seeds every CUDA device too


# --8<-- [end:set-seed]
