"""README.md is a short front door; everything else lives in docs/, and every link between them holds.

No TensorFlow here: these tests read text files only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

README = REPO / "README.md"
README_LIMIT = 10_000  # bytes
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
NOTEBOOKS = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
NB_START, NB_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")  # inline HTML tags, code-span ticks
    text = re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))", "", text)  # emphasis markers (not snake_case underscores)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a markdown file; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(match[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(prose(path.read_text(encoding="utf-8")))
            if not SCHEME.match(target)]


def test_docs_slug_is_githubs() -> None:
    assert slug("The command line, without JupyterLab") == "the-command-line-without-jupyterlab"
    assert slug("`compare`: why two cards differ") == "compare-why-two-cards-differ"
    assert slug("What each notebook teaches, and the verdicts it checks") == (
        "what-each-notebook-teaches-and-the-verdicts-it-checks")
    assert slug("Forcing the CPU, and `PYTHONHASHSEED`") == "forcing-the-cpu-and-pythonhashseed"
    assert slug("**Bold** and *em* in_snake") == "bold-and-em-in_snake"


def test_readme_is_a_front_door() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size:,} bytes; keep it to {README_LIMIT:,} and move the rest to docs/"


def test_docs_exist() -> None:
    assert DOCS, "docs/ has no markdown pages"


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_docs_and_readme_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked.relative_to(REPO) if linked.is_relative_to(REPO) else linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with the anchor #{anchor} in {linked.relative_to(REPO).as_posix()}")
    assert not broken, f"{page.relative_to(REPO).as_posix()} has broken links:\n" + "\n".join(broken)


def test_readme_links_into_every_docs_page() -> None:
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README)}
    missing = [p.relative_to(REPO).as_posix() for p in DOCS if p.resolve() not in linked]
    assert not missing, f"README.md does not link to {missing}"


def colab_badge(name: str) -> str:
    github = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["repro-lab"]["github"]
    url = (f"https://colab.research.google.com/github/{github['owner']}/{github['repo']}/blob/{github['branch']}"
           f"/notebooks/{name}.ipynb")
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def test_readme_notebooks_block_has_one_row_per_notebook() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(NB_START) == 1 and text.count(NB_END) == 1, f"README.md needs one {NB_START} and one {NB_END}"
    block = text.split(NB_START, 1)[1].split(NB_END, 1)[0]
    assert NB_END not in text.split(NB_START, 1)[0], f"{NB_END} comes before {NB_START}"
    rows = [line for line in block.strip().splitlines() if line.startswith("|")][2:]  # after header, separator
    named = []
    for row in rows:
        cells = [cell.strip() for cell in row.strip().strip("|").split(" | ")]
        found = re.search(r"`([^`]+?)(?:\.ipynb)?`", cells[0])
        assert found, f"the first cell of {row!r} names no notebook in backticks"
        name = found[1]
        named.append(name)
        assert colab_badge(name) in cells[-1], f"the row of {name} lacks its Open-in-Colab badge"
        assert len(cells) >= 3 and cells[1], f"the row of {name} does not say what the notebook shows"
    assert sorted(named) == NOTEBOOKS, (
        f"README's notebooks table names {sorted(named)}, notebooks/ holds {NOTEBOOKS}: one row per notebook")


def test_the_package_map_names_every_module() -> None:
    """docs/how-it-works.md's map is the newcomer's way in: a module it does not name is a room off the plan."""
    text = (REPO / "docs" / "how-it-works.md").read_text(encoding="utf-8")
    unnamed = sorted(str(p.relative_to(REPO)) for p in (REPO / "helpers").rglob("*.py")
                     if p.name != "__init__.py" and p.name not in text)
    assert not unnamed, f"name these in docs/how-it-works.md's package map: {unnamed}"
