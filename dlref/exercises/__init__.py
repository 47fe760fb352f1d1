"""Checks for the exercises at the end of each page.

Used in the Exercises section of every topic page, from the first,
[Neurons and activation functions](../foundations/neurons-and-activations.md#exercises).

Write your answer, then call its check: ``check_gelu_grad(my_gelu_grad)``. A right answer prints a
line that starts with ``Correct``; a wrong one raises :class:`ExerciseFailed` with a hint that says
what differs (value, gradient, shape) and where. One module per page's exercises; every check is
importable from here.
"""

from dlref.exercises import (
    activations,
    attention,
    augment,
    autoencoder,
    backprop,
    conv,
    distributed,
    gradients,
    norm,
    optim,
    performance,
    resnet,
    rnn,
    symmetry,
    train,
    transfer,
    transformer,
)
from dlref.exercises.activations import *  # noqa: F403
from dlref.exercises.attention import *  # noqa: F403
from dlref.exercises.augment import *  # noqa: F403
from dlref.exercises.autoencoder import *  # noqa: F403
from dlref.exercises.backprop import *  # noqa: F403
from dlref.exercises.checking import ExerciseFailed
from dlref.exercises.conv import *  # noqa: F403
from dlref.exercises.distributed import *  # noqa: F403
from dlref.exercises.gradients import *  # noqa: F403
from dlref.exercises.norm import *  # noqa: F403
from dlref.exercises.optim import *  # noqa: F403
from dlref.exercises.performance import *  # noqa: F403
from dlref.exercises.resnet import *  # noqa: F403
from dlref.exercises.rnn import *  # noqa: F403
from dlref.exercises.symmetry import *  # noqa: F403
from dlref.exercises.train import *  # noqa: F403
from dlref.exercises.transfer import *  # noqa: F403
from dlref.exercises.transformer import *  # noqa: F403

__all__ = [
    "ExerciseFailed",
    *activations.__all__,
    *attention.__all__,
    *augment.__all__,
    *autoencoder.__all__,
    *backprop.__all__,
    *conv.__all__,
    *distributed.__all__,
    *gradients.__all__,
    *norm.__all__,
    *optim.__all__,
    *performance.__all__,
    *resnet.__all__,
    *rnn.__all__,
    *symmetry.__all__,
    *train.__all__,
    *transfer.__all__,
    *transformer.__all__,
]
