"""dlref.benchmark: every case builds two steps that agree, times them, and the table the page
shows lists every case with its target met or its gap explained on the page."""

import re
from pathlib import Path

import pytest
import torch

from dlref import benchmark
from dlref.benchmark import CASES, Case, Pair, Result, measure, table

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "benchmarks" / "cpu.md"
PAGE = ROOT / "docs" / "training" / "performance.md"
QUICK = {"scale": 0.05, "rounds": 1, "min_run_time": 0.0, "compile": False}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_case_compares_the_same_work_and_times_it(case):
    result = measure(case, torch.device("cpu"), **QUICK)
    assert result.difference <= 1e-3
    median, low, high = result.eager
    assert 0 < low <= median <= high
    assert result.torch_ms > 0 and result.compiled is None


def test_a_compiled_case_is_timed_and_agrees():
    case = next(case for case in CASES if case.name == "relu")
    result = measure(case, torch.device("cpu"), **{**QUICK, "compile": True})
    assert result.compiled is not None and result.compiled[0] > 0
    assert result.best == min(result.eager[0], result.compiled[0])


def test_sides_that_disagree_are_refused_before_timing():
    def build(device, scale):
        return Pair(lambda: None, lambda: None, None, difference=0.5)

    with pytest.raises(ValueError, match="differ by 0.5"):
        measure(Case("broken", "test", 1.5, build), torch.device("cpu"), **QUICK)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"scale": 0}, "scale"), ({"scale": 2}, "scale"), ({"rounds": 0}, "rounds")],
)
def test_bad_arguments_say_what_they_got(kwargs, match):
    with pytest.raises(ValueError, match=match):
        measure(CASES[0], torch.device("cpu"), **{**QUICK, **kwargs})


def test_table_marks_targets_missed_and_explained():
    def result(name, ratio, explained=""):
        case = Case(name, "test", 1.5, lambda d, s: None, explained)
        return Result(case, (ratio, ratio, ratio), None, 1.0, 0.0)

    lines = table(
        [result("fast", 1.2), result("slow", 4.0), result("why", 4.0, "gaps")], page="p.md"
    ).splitlines()
    assert lines[2].endswith("| yes |") and "1.20×" in lines[2]
    assert lines[3].endswith("| **no** |")
    assert lines[4].endswith("| no: [why](p.md#gaps) |")


def test_main_writes_the_table_it_prints(tmp_path, capsys):
    output = tmp_path / "cpu.md"
    argv = ["--only", "GELU", "--scale", "0.05", "--rounds", "1", "--min-run-time", "0"]
    code = benchmark.main([*argv, "--no-compile", "--device", "cpu", "--output", str(output)])
    text = output.read_text()
    assert text.startswith("Measured on ") and "| gelu | activation |" in text
    assert text in capsys.readouterr().out
    assert code in (0, 1)


def _rows(text: str) -> dict[str, list[str]]:
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return {row[0].removeprefix("| "): row for row in rows[2:]}


def test_the_pages_table_lists_every_case_and_meets_or_explains_each_target():
    text = TABLE.read_text()
    assert re.match(r"Measured on .+, torch \d+\.\d+", text), text.splitlines()[0]
    rows = _rows(text)
    assert list(rows) == [case.name for case in CASES], "run `make bench` to refresh the table"
    anchors = set(re.findall(r"^#+ (.+)$", PAGE.read_text(), re.M))
    slugs = {re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-") for heading in anchors}
    for case in CASES:
        met = rows[case.name][-1].removesuffix(" |")
        if case.explained:
            assert case.explained in slugs, f"{case.name}: no section #{case.explained}"
        else:
            assert met == "yes", f"{case.name} misses its target with no explanation: {met}"


def test_the_page_includes_the_table():
    assert '--8<-- "benchmarks/cpu.md"' in PAGE.read_text()


def _ratios() -> dict[str, tuple[float, float | None]]:
    """Each case's (eager, compiled) median ratio in the page's table."""
    ratios = {}
    for name, row in _rows(TABLE.read_text()).items():
        eager, compiled = (cell.split("×")[0] for cell in row[3:5])
        ratios[name] = (float(eager), None if compiled == "—" else float(compiled))
    return ratios


def test_the_claims_the_page_makes_about_its_table():
    """What the page's sections say of the table, with the thresholds they state."""
    r = _ratios()
    activations = ["relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"]
    assert all(r[name][0] > 1.5 for name in activations), "eager activations: several times"
    for name in ["gelu", "elu", "softmax", "log_softmax"]:
        assert r[name][1] <= 2.3, f"{name}: compiled to about 2x or less"
    for name in ["sigmoid", "silu", "tanh"]:
        assert r[name][1] > 2.5, f"{name}: compiled, still several times"
    for name in ["relu", "leaky_relu"]:
        assert r[name][1] >= 0.9 * r[name][0], f"{name}: compiling did not help"
    for name in ["BatchNorm1d(512)", "BatchNorm2d(32)", "LayerNorm(512)"]:
        assert 4.5 < r[name][0] < 12 and 1.5 < r[name][1] < 2, name
    assert r["digits CNN, one epoch"][0] < r["Conv2d(16, 32, 3), im2col"][0] / 2
    assert r["LSTM(64, 128)"][1] < r["LSTM(64, 128)"][0] / 2
    for name in ["SGD, momentum 0.9", "RMSprop", "Adam", "AdamW"]:
        assert 0.8 < r[name][0] < 1.2, f"{name}: the same speed as PyTorch's"
    assert 0.9 < r["small GPT, one epoch"][0] < 1.1, "the GPT's epoch: within a few percent"
