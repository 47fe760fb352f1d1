"""The recurrent networks page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import pytest
import torch
import torch.nn.functional as F

from dlref.exercises import ExerciseFailed, check_gru_step, check_lstm_step


def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh, order="ifgo", forget=True, output=True):
    gates = dict(
        zip(order, (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, -1), strict=True)
    )
    i, f, o = torch.sigmoid(gates["i"]), torch.sigmoid(gates["f"]), torch.sigmoid(gates["o"])
    g = torch.tanh(gates["g"])
    c = (f * c if forget else c) + i * g
    return (o if output else 1) * torch.tanh(c), c


def gru_step(x, h, w_ih, w_hh, b_ih, b_hh, reset_inside=True, swap=False):
    x_r, x_z, x_n = F.linear(x, w_ih, b_ih).chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    if reset_inside:
        n = torch.tanh(x_n + r * h_n)
    else:  # the reset gate applied to h before the product (Cho et al.'s first form)
        _, _, w_hn = w_hh.chunk(3, 0)
        n = torch.tanh(x_n + F.linear(r * h, w_hn, b_hh.chunk(3)[2]))
    return z * n + (1 - z) * h if swap else (1 - z) * n + z * h


def test_right_answers_pass(capsys):
    check_lstm_step(lstm_step)
    check_gru_step(gru_step)
    assert capsys.readouterr().out.count("Correct") == 2


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda *args: None, "returned None"),
        (lambda *args: (_ for _ in ()).throw(NotImplementedError), "NotImplementedError"),
        (lambda *a: lstm_step(*a, order="ifog"), "lstm_step, (B, D, H) = (4, 3, 5): h"),
        (lambda *a: lstm_step(*a, forget=False), "lstm_step, (B, D, H) = (4, 3, 5): h"),
        (lambda *a: lstm_step(*a, output=False), "lstm_step, (B, D, H) = (4, 3, 5): h"),
        (lambda *a: lstm_step(*a)[0], "expected the pair (h, c)"),
        (lambda *a: tuple(t.detach() for t in lstm_step(*a)), "detached"),
    ],
)
def test_lstm_check_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseFailed, match=hint.replace("(", r"\(").replace(")", r"\)")):
        check_lstm_step(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda *args: None, "returned None"),
        (lambda *a: gru_step(*a, swap=True), "gru_step, (B, D, H) = (4, 3, 5): h"),
        (lambda *a: gru_step(*a, reset_inside=False), "gru_step, (B, D, H) = (4, 3, 5): h"),
        (lambda *a: a[1], "gru_step, (B, D, H) = (4, 3, 5): h at index"),
    ],
)
def test_gru_check_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseFailed, match=hint.replace("(", r"\(").replace(")", r"\)")):
        check_gru_step(answer)
