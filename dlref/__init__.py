"""dlref: the implementations behind the Deep Learning Roadmap you can run.

Explained on the page [What is deep learning](../index.md).

Each module holds one idea of the roadmap (``autograd``, ``backprop``, ``activations``, ``optim``,
...), written to be read next to its page and checked against PyTorch's own implementation.
"""

from dlref.device import get_device
from dlref.seed import set_seed

__all__ = ["get_device", "set_seed"]
__version__ = "0.1.0"
