"""Benchmarks that share one results page each rewrite only their own section of it."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, name: str, body: str, *, title: str) -> None:
    """Replace the text between `<!-- name -->` markers (appended the first time)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    page = path.read_text() if path.exists() else f"# {title}\n"
    section = f"{start}\n{body.strip()}\n{end}"
    if start in page and end in page:
        before, rest = page.split(start, 1)
        page = before + section + rest.split(end, 1)[1]
    else:
        page = page.rstrip() + "\n\n" + section + "\n"
    path.write_text(page)
