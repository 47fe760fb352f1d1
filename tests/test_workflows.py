"""The pull-request workflow: GitHub Actions workflows that actionlint passes, and pre-commit.

The workflows run the suite the way a contributor does (``make test``), and the scheduled one
tests both ends of the torch versions that pyproject.toml and the README promise.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from hooks import pages

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

WORKFLOWS = pages.ROOT / ".github" / "workflows"
RUNS_THE_SUITE = ["tests.yml", "gpu.yml", "torch-window.yml"]
WINDOW = WORKFLOWS / "torch-window.yml"


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def run_scripts(name: str) -> list[str]:
    """The ``run:`` script of every step of every job of a workflow."""
    jobs = workflow(name)["jobs"].values()
    return [step["run"] for job in jobs for step in job["steps"] if "run" in step]


def actionlint() -> str:
    """actionlint's binary: the one the test extras install beside Python, else one on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    binary = shutil.which("actionlint", path=search)
    assert binary, "actionlint is not installed: `make setup` installs it (test extras)"
    return binary


def test_actionlint_passes_on_every_workflow():
    names = sorted(path.name for path in WORKFLOWS.glob("*.yml"))
    assert names == sorted(["pages.yml", *RUNS_THE_SUITE]), f"workflows: {names}"
    # With no arguments actionlint checks .github/workflows with .github/actionlint.yaml (and runs
    # shellcheck on the run: scripts when shellcheck is on PATH).
    result = subprocess.run(
        [actionlint(), "-oneline"], cwd=pages.ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"actionlint failed:\n{result.stdout}{result.stderr}"


def test_every_workflow_that_runs_the_suite_calls_make_test():
    for name in RUNS_THE_SUITE:
        scripts = run_scripts(name)
        calls = [s for s in scripts if s == "make test" or s.startswith("make test PYTEST_ARGS=")]
        assert calls, f"{name} has no `make test` step: {scripts}"
    for path in WORKFLOWS.glob("*.yml"):
        pytest_calls = [script for script in run_scripts(path.name) if "pytest" in script]
        assert not pytest_calls, f"{path.name} runs pytest itself, not `make test`: {pytest_calls}"
    assert "make build" in run_scripts("pages.yml"), "pages.yml should build with `make build`"


def test_the_shards_and_the_site_job_together_run_the_whole_suite():
    jobs = workflow("tests.yml")["jobs"]
    shards = jobs["pages"]["strategy"]["matrix"]["shard"]
    (shard_call,) = [s for s in run_scripts("tests.yml") if "--shard" in s]
    wanted = f"--shard ${{{{ matrix.shard }}}}/{len(shards)}'"
    assert shard_call == 'make test PYTEST_ARGS=\'-m "not site" ' + wanted
    assert shards == list(range(1, len(shards) + 1)), shards
    assert jobs["site"]["needs"] == "pages"
    assert "make test PYTEST_ARGS='-m site --reuse-page-runs'" in run_scripts("tests.yml")


def lower_bounds() -> dict[str, Version]:
    """The lowest torch and torchvision that pyproject.toml allows (``torch>=2.6``: 2.6)."""
    dependencies = tomllib.loads((pages.ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for line in dependencies["dependencies"]:
        requirement = Requirement(line)
        if requirement.name in ("torch", "torchvision"):
            (spec,) = [spec for spec in requirement.specifier if spec.operator == ">="]
            bounds[requirement.name] = Version(spec.version)
    return bounds


def test_torch_window_tests_the_oldest_versions_pyproject_allows_and_the_newest():
    (job,) = yaml.safe_load(WINDOW.read_text())["jobs"].values()
    ends = {entry["end"]: entry for entry in job["strategy"]["matrix"]["include"]}
    assert sorted(ends) == ["newest", "oldest"], f"torch-window.yml's matrix: {ends}"
    for name, lowest in lower_bounds().items():
        oldest, newest = Requirement(ends["oldest"][name]), Requirement(ends["newest"][name])
        (pin,) = oldest.specifier
        assert pin.operator == "==" and Version(pin.version) == lowest, (
            f"torch-window.yml tests {oldest} as the oldest, but pyproject.toml says {name}>="
            f"{lowest}"
        )
        assert not newest.specifier, f"torch-window.yml's newest {name} is pinned: {newest}"


def test_readme_states_the_window_pyproject_allows_and_the_pins_of_the_suite():
    readme = (pages.ROOT / "README.md").read_text()
    pattern = r"supports torch (\S+) \(with torchvision (\S+)\) up to the\s+newest release"
    match = re.search(pattern, readme)
    assert match, f"README.md should state the torch window, matching {pattern!r}"
    stated = {"torch": Version(match[1]), "torchvision": Version(match[2])}
    assert stated == lower_bounds(), f"README.md states {stated}, pyproject.toml {lower_bounds()}"
    constraints = (pages.ROOT / "constraints.txt").read_text().splitlines()
    pins = [line for line in constraints if line.startswith(("torch==", "torchvision=="))]
    assert len(pins) == 2, f"constraints.txt should pin torch and torchvision, got {pins}"
    for pin in pins:
        assert f"`{pin}`" in readme, f"README.md should name the pin of constraints.txt: {pin}"


def test_pre_commit_config_is_valid_and_needs_no_network():
    config = pages.ROOT / ".pre-commit-config.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", str(config)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    repos = yaml.safe_load(config.read_text())["repos"]
    sources = {repo["repo"] for repo in repos}
    assert sources == {"local"}, f"hooks from other repositories need a network: {sources}"
    hooks = [hook for repo in repos for hook in repo["hooks"]]
    assert {hook["language"] for hook in hooks} == {"system"}, hooks
    assert {hook["id"] for hook in hooks} == {"ruff-check", "ruff-format"}, hooks
