"""What a page's outputs were verified with, stated from the record of the run that made them.

Every page with code says, under its install line, which torch, dlref and device ran its code,
when, from which commit, and how long it took: all of it read from the stored run
(``hooks/pages.PageRun``), never typed. A page whose outputs come from another torch or dlref
than the one the site documents says so.
"""

from __future__ import annotations

from datetime import datetime

from hooks.pages import PageRun


def _when(iso_date: str) -> str:
    """``2026-11-25T17:40:12+00:00`` -> ``2026-11-25 17:40 UTC``."""
    return datetime.fromisoformat(iso_date).strftime("%Y-%m-%d %H:%M UTC")


def verified_with(run: PageRun) -> str:
    """One sentence: the versions, device, date, commit and run time of a page's outputs."""
    commit = f", commit {run.commit}" if run.commit else ""
    return (
        f"Verified with torch {run.torch} and dlref {run.dlref} on {run.device.upper()}, "
        f"{_when(run.date)}{commit}: every code block on this page ran, top to bottom in one "
        f"session, in {run.seconds:.1f} s ({run.cpu_seconds:.1f} s of CPU time)."
    )


def stale_note(run: PageRun, torch: str, dlref: str) -> str | None:
    """A warning when the outputs come from another torch or dlref than the site documents."""
    older = [
        f"{name} {ran}"
        for name, ran, now in (("torch", run.torch, torch), ("dlref", run.dlref, dlref))
        if ran != now
    ]
    if not older:
        return None
    return (
        f"These outputs come from a run with {' and '.join(older)}; this site documents "
        f"torch {torch} and dlref {dlref}. Run the page's code to see what yours prints."
    )
