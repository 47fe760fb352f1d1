"""Train one MLP on two moons twice: with a hand-written backward pass and with torch.autograd.

Both copies start from the same weights and take the same full-batch SGD steps. In float64 their
losses and weights stay equal up to rounding error, which shows the hand-written backward pass
computes exactly the gradients autograd does. Run it as is: `python backprop_moons.py`.
"""

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from sklearn.datasets import make_moons

from dlref.backprop import ManualMLP
from dlref.losses import softmax_cross_entropy
from dlref.plot import plot_curves, plot_decision_boundary

STEPS, LR = 600, 0.2

# Two interleaving half circles: 768 points to train on, 256 held out.
points, labels = make_moons(n_samples=1024, noise=0.2, random_state=0)
x = torch.tensor(points, dtype=torch.float64)  # (1024, 2)
y = torch.tensor(labels)  # (1024,)
x_train, y_train, x_test, y_test = x[:768], y[:768], x[768:], y[768:]

manual = ManualMLP([2, 16, 16, 2], "tanh", generator=torch.Generator().manual_seed(0))
auto = manual.to_torch()  # an nn.Sequential holding copies of the same weights
optimizer = torch.optim.SGD(auto.parameters(), lr=LR)

manual_losses, auto_losses = [], []
for _ in range(STEPS):
    # By hand: forward, loss gradient, backward, update.
    loss, dlogits = softmax_cross_entropy(manual.forward(x_train), y_train)
    manual.sgd_step(manual.backward(dlogits), lr=LR)
    manual_losses.append(loss.item())

    # With autograd: the same step, PyTorch's way.
    optimizer.zero_grad()
    auto_loss = F.cross_entropy(auto(x_train), y_train)
    auto_loss.backward()
    optimizer.step()
    auto_losses.append(auto_loss.item())

trained_by_autograd = ManualMLP.from_torch(auto)
loss_gap = max(abs(a - b) for a, b in zip(manual_losses, auto_losses, strict=True))
weight_gap = max(
    (mine - theirs).abs().max().item()
    for mine, theirs in zip(
        manual.weights + manual.biases,
        trained_by_autograd.weights + trained_by_autograd.biases,
        strict=True,
    )
)
train_accuracy = (manual.predict(x_train) == y_train).double().mean().item()
test_accuracy = (manual.predict(x_test) == y_test).double().mean().item()
print(f"final loss: {manual_losses[-1]:.4f}")
print(f"max |loss difference|: {loss_gap:.1e}")
print(f"max |weight difference|: {weight_gap:.1e}")
print(f"training accuracy: {train_accuracy:.3f}")
print(f"test accuracy: {test_accuracy:.3f}")

figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.6, 8), layout="constrained")
plot_curves({"hand-written backward": manual_losses, "torch.autograd": auto_losses}, ax=top)
top.lines[1].set_linestyle("--")
top.legend()  # redrawn so that it shows the dashed line
top.set_title("Training loss: the two curves coincide")
plot_decision_boundary(manual.predict, x_test, y_test, ax=bottom)
bottom.set_title(f"Held-out points, {test_accuracy:.1%} classified correctly")
plt.show()
