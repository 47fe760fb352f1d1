"""Every file in snippets/ runs as a fresh process, as someone who copied it would run it.

Each snippet prints its results as ``name: value`` lines; ``EXPECTED`` states, for every snippet,
what each printed number must satisfy. A snippet without expectations fails the suite.
"""

import re
import subprocess
import sys

import pytest

from hooks import pages

SNIPPETS = sorted((pages.ROOT / "snippets").glob("*.py"))
SNIPPET_BUDGET_S = 60

# snippet file -> {printed name: (check, description)}
EXPECTED = {
    "backprop_moons.py": {
        "max |loss difference|": (lambda v: v < 1e-9, "< 1e-9"),
        "max |weight difference|": (lambda v: v < 1e-9, "< 1e-9"),
        "training accuracy": (lambda v: v >= 0.95, ">= 0.95"),
        "test accuracy": (lambda v: v >= 0.95, ">= 0.95"),
    },
}


def printed_numbers(stdout: str) -> dict[str, float]:
    """The ``name: number`` lines of a program's output."""
    pattern = re.compile(r"^(?P<name>[^:\n]+):\s+(?P<value>[-+]?\d[\d.eE+-]*)\b", re.M)
    return {match["name"].strip(): float(match["value"]) for match in pattern.finditer(stdout)}


def test_every_snippet_has_expectations():
    assert {snippet.name for snippet in SNIPPETS} == set(EXPECTED)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda path: path.name)
def test_snippet_runs_as_pasted_and_prints_what_it_claims(snippet, tmp_path):
    result = subprocess.run(
        [sys.executable, str(snippet)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SNIPPET_BUDGET_S,
    )
    assert result.returncode == 0, f"{snippet.name} failed:\n{result.stderr}"
    numbers = printed_numbers(result.stdout)
    for name, (check, description) in EXPECTED[snippet.name].items():
        assert name in numbers, f"{snippet.name} did not print {name!r}:\n{result.stdout}"
        assert check(numbers[name]), f"{snippet.name}: {name} = {numbers[name]}, want {description}"
