"""Fixtures shared by the site tests."""

import json

import pytest
from filelock import FileLock

from tests.site.site_build import BuiltSite, build_site


@pytest.fixture(scope="session")
def built_site(page_runs, tmp_path_factory, worker_id) -> BuiltSite:
    """The site built with ``mkdocs build --strict`` after every page's code ran in this session.

    Under pytest-xdist the workers share one build: the first to get here builds, the others wait
    for it and take it.
    """
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # the folder every worker of this test run shares
    with FileLock(root / "site.lock"):
        record = root / "site.json"
        if record.exists():
            built = json.loads(record.read_text(encoding="utf-8"))
            return BuiltSite(root / "site", built["seconds"], built["log"])
        site = build_site(root / "site")
        record.write_text(json.dumps({"seconds": site.seconds, "log": site.log}), encoding="utf-8")
        return site
