"""Pick the fastest device this machine offers.

Explained on the page [A feedforward network in PyTorch](../projects/feedforward-network.md).
"""

import torch


def get_device() -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    Every page and snippet moves its model and data with ``.to(get_device())``, so the same code
    runs on a laptop CPU and on a GPU.

    Returns:
        The device to place tensors and modules on.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
