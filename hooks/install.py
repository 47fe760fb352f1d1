"""The wheel of ``dlref`` that the site serves, and the one install line every page shows.

The site's own URL (``site_url`` in ``mkdocs.yml``) decides where the wheel lives, so a reader
installs exactly the code the pages ran, in one command, from the site they are reading:

    pip install https://<site>/dist/dlref-0.1.0-py3-none-any.whl

The wheel is built from the repository's sources with pip (no network: ``--no-build-isolation``
uses the setuptools already installed) and kept in ``.cache/wheel/`` under a hash of the sources,
so ``mkdocs serve`` rebuilds it only when ``dlref`` or ``pyproject.toml`` changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hooks.pages import ROOT

WHEEL_DIR = "dist"  # where the built site serves the wheel
_CACHE = ROOT / ".cache" / "wheel"


@dataclass(frozen=True)
class Package:
    """What the install line says: the wheel's name, and the Python and torch it supports."""

    name: str
    version: str
    python: str  # e.g. ">=3.10"
    torch: str  # e.g. ">=2.6"
    tested_torch: str  # the exact version CI runs, from constraints.txt

    @property
    def wheel(self) -> str:
        return f"{self.name}-{self.version}-py3-none-any.whl"

    def wheel_url(self, site_url: str) -> str:
        return f"{site_url.rstrip('/')}/{WHEEL_DIR}/{self.wheel}"

    def install_command(self, site_url: str) -> str:
        """The one command that installs ``dlref`` (and torch, if missing) from the site."""
        return f"pip install {self.wheel_url(site_url)}"

    def support_note(self) -> str:
        def plus(spec: str) -> str:  # ">=3.10" reads "3.10 or newer"
            return f"{spec[2:]} or newer" if spec.startswith(">=") and "," not in spec else spec

        return (
            f"Python {plus(self.python)}, torch {plus(self.torch)} "
            f"(tested with {self.tested_torch}), on a CPU or a GPU"
        )


def package() -> Package:
    """The package's name, version and supported versions, from its installed metadata."""
    metadata = importlib.metadata.metadata("dlref")
    torch = next(
        requirement
        for requirement in metadata.get_all("Requires-Dist")
        if re.match(r"torch\b(?!vision)", requirement)
    )
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line
    )
    return Package(
        name=metadata["Name"],
        version=metadata["Version"],
        python=metadata["Requires-Python"],
        torch=torch.removeprefix("torch").strip(),
        tested_torch=pins["torch"].strip(),
    )


def _sources_hash() -> str:
    digest = hashlib.sha256()
    files = [ROOT / "pyproject.toml", ROOT / "README.md", *sorted((ROOT / "dlref").rglob("*.py"))]
    for file in files:
        digest.update(str(file.relative_to(ROOT)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def build_wheel() -> Path:
    """Build (or reuse) the wheel of the current sources; return its path.

    The sources are copied to a scratch folder first, so the build leaves nothing in the
    repository (no ``build/`` or ``*.egg-info``).
    """
    wheel = _CACHE / _sources_hash() / package().wheel
    if wheel.exists():
        return wheel
    with tempfile.TemporaryDirectory(prefix="dlref-wheel-") as scratch:
        source = Path(scratch) / "src"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        shutil.copytree(
            ROOT / "dlref", source / "dlref", ignore=shutil.ignore_patterns("__pycache__")
        )
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
            + ["--no-build-isolation", "--wheel-dir", str(wheel.parent), str(source)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not wheel.exists():
            raise RuntimeError(f"building the wheel of dlref failed:\n{result.stderr}")
    return wheel
