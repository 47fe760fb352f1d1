"""dlref.autograd.Value against torch.autograd in float64: every op, random graphs, deep chains."""

import math
import operator
import random

import pytest
import torch

from dlref.autograd import Value
from tests.dlref.compare import TOL


def leaf(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def assert_close(ours: float, theirs: float | torch.Tensor | None, what: str) -> None:
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.item()
    theirs = 0.0 if theirs is None else theirs  # torch leaves .grad None where none flowed
    assert math.isclose(ours, theirs, rel_tol=TOL["rtol"], abs_tol=TOL["atol"]), (
        f"{what}: {ours} vs {theirs}"
    )


def check_against_torch(fn, *xs: float) -> None:
    """Apply ``fn`` to Values and to float64 tensors; compare outputs and input gradients."""
    values, tensors = [Value(x) for x in xs], [leaf(x) for x in xs]
    out, out_t = fn(*values), fn(*tensors)
    out.backward()
    out_t.backward()
    assert_close(out.data, out_t, "output")
    for i, (v, t) in enumerate(zip(values, tensors, strict=True)):
        assert_close(v.grad, t.grad, f"grad of input {i}")


UNARY_CASES = [
    ("neg", operator.neg, [-1.7, 0.0, 2.5]),
    ("exp", lambda a: a.exp(), [-3.0, 0.0, 1.3, 4.2]),
    ("log", lambda a: a.log(), [1e-3, 0.4, 1.0, 7.5]),
    ("tanh", lambda a: a.tanh(), [-4.0, -0.3, 0.0, 0.8, 20.0]),
    ("sigmoid", lambda a: a.sigmoid(), [-800.0, -2.0, 0.0, 0.7, 800.0]),
    ("relu", lambda a: a.relu(), [-1.5, 0.0, 2.0]),
    ("square", lambda a: a**2, [-1.5, 0.0, 2.0]),
    ("cube", lambda a: a**3, [-1.5, 0.0, 2.0]),
    ("int-power-negative", lambda a: a**-3, [-1.5, 0.7]),
    ("float-power-integral", lambda a: a**2.0, [-1.5, 3.0]),
    ("sqrt", lambda a: a**0.5, [0.0, 0.3, 4.0]),
    ("power-1.5", lambda a: a**1.5, [0.0, 0.3, 4.0]),
    ("power-minus-0.5", lambda a: a**-0.5, [0.3, 4.0]),
    ("power-zero", lambda a: a**0, [-2.0, 0.0, 3.0]),
]


@pytest.mark.parametrize(
    "fn, x",
    [pytest.param(fn, x, id=f"{name}({x})") for name, fn, xs in UNARY_CASES for x in xs],
)
def test_unary_op_matches_torch(fn, x):
    check_against_torch(fn, x)


BINARY_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


@pytest.mark.parametrize("symbol", BINARY_OPS)
@pytest.mark.parametrize("a, b", [(1.5, -2.25), (-0.7, 3.0), (4.0, 0.5)])
def test_binary_op_matches_torch_with_values_and_numbers_on_either_side(symbol, a, b):
    op = BINARY_OPS[symbol]
    check_against_torch(op, a, b)  # Value op Value
    check_against_torch(lambda x: op(x, b), a)  # Value op number
    check_against_torch(lambda y: op(a, y), b)  # number op Value (__radd__, __rsub__, ...)
    check_against_torch(lambda x: op(x, x), a)  # the same Value on both sides


def test_integer_operands_are_accepted():
    x = Value(3)
    y = 2 * x + 1 - x / 4
    y.backward()
    assert isinstance(y.data, float) and y.data == 6.25
    assert x.grad == 1.75


# -- random expression graphs ------------------------------------------------------------------

UNARY_GRAPH_OPS = [
    ("exp", lambda d: abs(d) < 3, lambda a: a.exp()),
    ("log", lambda d: d > 0.2, lambda a: a.log()),
    ("tanh", lambda d: True, lambda a: a.tanh()),
    ("sigmoid", lambda d: True, lambda a: a.sigmoid()),
    ("relu", lambda d: True, lambda a: a.relu()),
    ("neg", lambda d: True, operator.neg),
    ("square", lambda d: True, lambda a: a**2),
    ("cube", lambda d: True, lambda a: a**3),
    ("reciprocal", lambda d: abs(d) > 0.5, lambda a: a**-1),
    ("sqrt", lambda d: d > 0.2, lambda a: a**0.5),
    ("power-1.5", lambda d: d > 0.2, lambda a: a**1.5),
]


def grow_random_graph(rng: random.Random, n_leaves: int, n_ops: int):
    """Build one random expression twice, over Values and over tensors, node by node.

    Operands are drawn from all nodes built so far (leaves included), so nodes are reused and
    gradients reach the leaves along several paths. Candidate nodes outside each op's domain,
    or whose value leaves [-10, 10], are drawn again, which keeps gradients of moderate size.
    """
    xs = [rng.uniform(-2.0, 2.0) for _ in range(n_leaves)]
    nodes = [(Value(x), leaf(x)) for x in xs]
    leaves = list(nodes)
    while len(nodes) < n_leaves + n_ops:
        a = rng.choice(nodes)
        if rng.random() < 0.4:
            name, in_domain, fn = rng.choice(UNARY_GRAPH_OPS)
            if not in_domain(a[0].data):
                continue
            candidate = (fn(a[0]), fn(a[1]))
        else:
            op = rng.choice(list(BINARY_OPS.values()))
            b = rng.choice([rng.choice(nodes), a, None])  # another node, the same node, a number
            if b is None:
                c = rng.choice([-2.5, -1.0, 0.5, 3.0])
                b = (c, c)
            if rng.random() < 0.5:
                a, b = b, a  # numbers land on the left too
            divisor = b[0].data if isinstance(b[0], Value) else b[0]
            if op is operator.truediv and abs(divisor) < 0.5:
                continue
            candidate = (op(a[0], b[0]), op(a[1], b[1]))
        if abs(candidate[0].data) <= 10.0:
            nodes.append(candidate)
    # Sum some nodes so that the output depends on many of them, through many paths.
    picked = rng.sample(nodes[n_leaves:], k=min(4, n_ops))
    out_v = sum((v for v, _ in picked), Value(0.0))
    out_t = sum(t for _, t in picked)
    return leaves, nodes, out_v, out_t


@pytest.mark.parametrize("seed", range(200))
def test_random_graph_gradients_match_torch(seed):
    rng = random.Random(seed)
    leaves, nodes, out_v, out_t = grow_random_graph(
        rng, n_leaves=rng.randint(1, 4), n_ops=rng.randint(5, 40)
    )
    for _, t in nodes[len(leaves) :]:
        t.retain_grad()
    out_t.backward()
    out_v.backward()
    assert_close(out_v.data, out_t, "output")
    for i, (v, t) in enumerate(nodes):  # leaves, and interior nodes too
        assert_close(v.grad, t.grad, f"grad of node {i} ({v._op or 'leaf'})")


def test_deep_chain_does_not_hit_the_recursion_limit():
    x, x_t = Value(0.3), leaf(0.3)
    y, y_t = x, x_t
    for _ in range(2500):  # 10,000 nodes, a path 7,500 nodes deep
        y = (y * 0.9).tanh() + x * 0.01
        y_t = (y_t * 0.9).tanh() + x_t * 0.01
    y.backward()
    y_t.backward()
    assert_close(y.data, y_t, "output")
    assert_close(x.grad, x_t.grad, "grad")


def test_backward_twice_accumulates_into_leaves_like_torch():
    x, x_t = Value(0.8), leaf(0.8)
    y, y_t = (x * x).tanh() * 3 + x, (x_t * x_t).tanh() * 3 + x_t
    y.backward()
    once = x.grad
    y_t.backward(retain_graph=True)
    y.backward()
    y_t.backward(retain_graph=True)
    assert_close(x.grad, x_t.grad, "accumulated grad")
    assert_close(x.grad, 2 * once, "accumulated grad")
    assert y.grad == 1.0  # interior nodes hold the last call's gradient

    x.grad = 0.0  # zero_grad
    y.backward()
    x_t.grad = None
    y_t.backward()
    assert_close(x.grad, x_t.grad, "grad after zeroing")


def test_backward_on_a_leaf_seeds_one():
    x = Value(5.0)
    x.backward()
    assert x.grad == 1.0


def test_graph_structure_is_kept_for_drawing():
    x, y = Value(2.0), Value(-3.0)
    z = x * y + x
    assert z._op == "+"
    assert z._prev[1] is x and z._prev[0]._op == "*"
    assert z._prev[0]._prev == (x, y)
    assert x._op == "" and x._prev == ()
    assert (x * x)._prev == (x,)  # an input used twice is listed once
    assert (x**2)._op == "**2"
    assert [Value(1.0).exp()._op, (-x)._op, (x - y)._op, (x / y)._op] == ["exp", "neg", "-", "/"]


def test_repr_shows_data_and_grad():
    x = Value(2.0)
    (x * 3).backward()
    assert repr(x) == "Value(data=2.0, grad=3.0)"
    assert repr(Value(-1)) == "Value(data=-1.0, grad=0.0)"


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["1.0", None, [1.0], True, torch.tensor(1.0)])
def test_construction_from_a_non_number_raises(bad):
    with pytest.raises(TypeError, match="Value expects a real number"):
        Value(bad)


def test_arithmetic_with_a_non_number_raises():
    with pytest.raises(TypeError, match=r"real number \(int or float\), got str"):
        Value(1.0) + "2"
    with pytest.raises(TypeError, match="got NoneType"):
        None * Value(1.0)


def test_value_exponent_raises():
    with pytest.raises(TypeError, match="exponent must be a plain int or float"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError, match="int or float exponent, got '2'"):
        Value(2.0) ** "2"
    with pytest.raises(TypeError):
        2.0 ** Value(3.0)


def test_log_of_a_non_positive_number_raises_with_the_value():
    with pytest.raises(ValueError, match=r"positive number, got -1\.5"):
        Value(-1.5).log()
    with pytest.raises(ValueError, match=r"got 0\.0"):
        Value(0).log()


@pytest.mark.parametrize(
    "divide",
    [lambda: Value(1.0) / 0, lambda: 1.0 / Value(0.0), lambda: Value(1.0) / Value(0.0)],
    ids=["value-by-number", "number-by-value", "value-by-value"],
)
def test_division_by_zero_raises(divide):
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        divide()


def test_invalid_powers_raise():
    with pytest.raises(ZeroDivisionError, match="negative power"):
        Value(0.0) ** -1
    with pytest.raises(ValueError, match=r"complex: -2\.0 \*\* 0\.5"):
        Value(-2.0) ** 0.5
