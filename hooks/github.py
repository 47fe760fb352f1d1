"""Links from a page into the project's GitHub repository (``repo_url`` in ``mkdocs.yml``).

- "Report a problem with this page" opens a new issue prefilled with the page, the commit the
  site was built from and the page's "verified with" line, so a report says what it is about.
- "Open in Colab" opens a page's notebook from the ``gh-pages`` branch, where the deploy workflow
  (``.github/workflows/pages.yml``) pushes the built site, notebooks included.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

PAGES_BRANCH = "gh-pages"


def repository(repo_url: str) -> str:
    """``https://github.com/owner/name`` -> ``owner/name``.

    Raises:
        ValueError: If ``repo_url`` is not a GitHub repository's address.
    """
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", repo_url or "")
    if match is None:
        raise ValueError(
            f"repo_url must be a GitHub repository like https://github.com/owner/name, "
            f"got {repo_url!r}"
        )
    return match[1]


def report_url(repo_url: str, page_url: str, source: str, commit: str, verified: str) -> str:
    """A new-issue link prefilled with what a maintainer needs to reproduce a reader's problem."""
    body = "\n".join(
        [
            "**What is wrong** (what you did, what you expected, what happened):",
            "",
            "",
            "---",
            f"Page: {page_url}",
            f"Source: `{source}`",
            f"Site built from commit: {commit or 'unknown'}",
            *([f"Outputs: {verified}"] if verified else []),
        ]
    )
    query = urlencode({"title": f"Problem on {source}", "body": body, "labels": "page"})
    return f"https://github.com/{repository(repo_url)}/issues/new?{query}"


def colab_url(repo_url: str, notebook_uri: str) -> str:
    """Colab's address for a notebook the built site serves at ``notebook_uri``."""
    return (
        f"https://colab.research.google.com/github/{repository(repo_url)}/blob/"
        f"{PAGES_BRANCH}/{notebook_uri}"
    )
