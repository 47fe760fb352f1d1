"""The transformers page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import pytest
import torch.nn.functional as F

from dlref.exercises import ExerciseFailed, check_gpt_parameters, check_post_norm


def post_norm_right(block, x):
    h = block.norm1(x + block.self_attn(x, x, x, need_weights=False)[0])
    return block.norm2(h + block.linear2(F.gelu(block.linear1(h))))


def test_post_norm_passes_the_right_answer(capsys):
    check_post_norm(post_norm_right)
    assert "Correct: post_norm" in capsys.readouterr().out


def stub_post_norm(block, x): ...


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub_post_norm, "returned None"),
        (lambda block, x: block(x), "returned the pre-norm block's output"),
        (  # ReLU instead of GELU
            lambda block, x: block.norm2(
                (h := block.norm1(x + block.self_attn(x, x, x)[0]))
                + block.linear2(F.relu(block.linear1(h)))
            ),
            "post_norm\\(block, x\\) at index",
        ),
        (  # the residual forgotten around the MLP
            lambda block, x: block.norm2(
                block.linear2(F.gelu(block.linear1(block.norm1(x + block.self_attn(x, x, x)[0]))))
            ),
            "post_norm\\(block, x\\) at index",
        ),
        (lambda block, x: x[:, 0], "shape"),
    ],
)
def test_post_norm_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check_post_norm(answer)


def count_right(v, t, n, c):
    return v * c + t * c + n * (12 * c * c + 13 * c) + 2 * c


def test_gpt_parameters_passes_the_formula(capsys):
    check_gpt_parameters(count_right)
    assert "124,439,808" in capsys.readouterr().out


def stub_count(v, t, n, c): ...


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub_count, "returned None"),
        (lambda v, t, n, c: count_right(v, t, n, c) + v * c, "tied"),
        (lambda v, t, n, c: v * c + t * c + n * 12 * c * c, "biases"),
        (lambda v, t, n, c: count_right(v, t, n, c) - t * c, "position embeddings"),
        (lambda v, t, n, c: count_right(v, t, n, c) - 2 * c, "final layer norm"),
        (lambda v, t, n, c: 12 * n * c * c, "expected"),
    ],
)
def test_gpt_parameters_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check_gpt_parameters(answer)
