"""The code is formatted and linted with ruff (configuration in pyproject.toml)."""

import subprocess
import sys

from hooks import pages


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=pages.ROOT, capture_output=True, text=True
    )


def test_ruff_format():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_check():
    result = ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr
