"""A clean Python environment, as a reader has after ``pip install <the site's wheel>``.

A new virtual environment that holds neither ``dlref`` nor this repository. So that the test does
not download PyTorch (several GB) again, it sees the third-party packages of the test
environment through a folder of links to them, with every trace of ``dlref`` left out (its
editable-install hook and its metadata): pip then finds torch and the rest installed, and
``dlref`` itself can only come from the wheel. ``PIP_NO_INDEX`` keeps pip off the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path


def _site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))


def clean_environment(folder: Path) -> Path:
    """Create the environment in ``folder``; return its ``python``."""
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    python = folder / "bin" / "python"
    shared = folder / "shared-packages"
    shared.mkdir()
    for entry in _site_packages(Path(sys.prefix)).iterdir():
        if "dlref" not in entry.name and not entry.name.endswith(".pth"):
            (shared / entry.name).symlink_to(entry)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for own in Path(site).glob("*setuptools*"):  # the venv's old copy would hide torch's
        subprocess.run(["rm", "-rf", str(own)], check=True)
    (Path(site) / "zz-shared-packages.pth").write_text(f"{shared}\n", encoding="utf-8")
    return python


def environment_variables(**extra: str) -> dict[str, str]:
    """Variables for a process in the clean environment: no network, no repository on the path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg", **extra)
    return env
