"""Fixtures shared by the site tests."""

import pytest

from tests.site.site_build import BuiltSite, build_site


@pytest.fixture(scope="session")
def built_site(page_runs, tmp_path_factory) -> BuiltSite:
    """The site built with ``mkdocs build --strict`` after every page's code ran in this session."""
    return build_site(tmp_path_factory.mktemp("site"))
