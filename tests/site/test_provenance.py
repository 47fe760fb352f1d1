"""A page's "verified with" line, its stale-output warning, and its links into the repository."""

from dataclasses import replace
from urllib.parse import parse_qs, urlparse

import pytest

from hooks import github, pages, provenance

RUN = pages.PageRun(
    page="docs/a.md",
    key="k",
    device="cpu",
    seconds=12.34,
    outputs=[],
    cpu_seconds=20.0,
    torch="2.14.1",
    dlref="0.1.0",
    date="2026-11-25T17:40:12+00:00",
    commit="abc1234def",
)


def test_the_verified_line_states_the_record_of_the_run():
    line = provenance.verified_with(RUN)
    assert line == (
        "Verified with torch 2.14.1 and dlref 0.1.0 on CPU, 2026-11-25 17:40 UTC, commit "
        "abc1234def: every code block on this page ran, top to bottom in one session, in 12.3 s "
        "(20.0 s of CPU time)."
    )


@pytest.mark.parametrize(
    "change",
    [
        {"torch": "2.15.0"},
        {"dlref": "0.2.0"},
        {"device": "cuda"},
        {"seconds": 3.0},
        {"cpu_seconds": 2.0},
        {"date": "2026-12-01T09:00:00+00:00"},
        {"commit": "0123456789"},
    ],
)
def test_the_verified_line_changes_when_the_run_does(change):
    assert provenance.verified_with(replace(RUN, **change)) != provenance.verified_with(RUN)


def test_outputs_from_another_torch_or_dlref_say_so():
    assert provenance.stale_note(RUN, torch="2.14.1", dlref="0.1.0") is None
    note = provenance.stale_note(RUN, torch="2.15.0", dlref="0.1.0")
    assert "a run with torch 2.14.1;" in note and "documents torch 2.15.0" in note
    both = provenance.stale_note(RUN, torch="2.15.0", dlref="0.2.0")
    assert "torch 2.14.1 and dlref 0.1.0" in both


def test_a_run_records_the_versions_commit_and_cpu_time(tmp_path, monkeypatch):
    import torch

    import dlref

    monkeypatch.setattr(pages, "CACHE_DIR", tmp_path)
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n```python\nprint(sum(range(10**5)))\n```\n", encoding="utf-8")
    run = pages.run_page(page)
    assert (run.torch, run.dlref) == (torch.__version__, dlref.__version__)
    assert run.date.endswith("+00:00") and run.cpu_seconds > 0
    assert run.commit == "" or len(run.commit.rstrip("+")) == 10
    assert pages.cached_run(page) == run


def test_the_report_link_opens_a_prefilled_issue():
    url = github.report_url(
        "https://github.com/dlref/dlref",
        page_url="https://dlref.github.io/dlref/foundations/optimizers/",
        source="docs/foundations/optimizers.md",
        commit="abc1234def",
        verified=provenance.verified_with(RUN),
    )
    parsed = urlparse(url)
    assert (parsed.netloc, parsed.path) == ("github.com", "/dlref/dlref/issues/new")
    query = parse_qs(parsed.query)
    assert query["title"] == ["Problem on docs/foundations/optimizers.md"]
    body = query["body"][0]
    for expected in ("foundations/optimizers/", "abc1234def", "Verified with torch 2.14.1"):
        assert expected in body


def test_colab_opens_the_notebook_from_the_deployed_branch():
    assert github.colab_url("https://github.com/dlref/dlref.git", "projects/x/x.ipynb") == (
        "https://colab.research.google.com/github/dlref/dlref/blob/gh-pages/projects/x/x.ipynb"
    )
    with pytest.raises(ValueError, match="GitHub repository.*got 'https://gitlab.com/a/b'"):
        github.repository("https://gitlab.com/a/b")
