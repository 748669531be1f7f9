"""Keep the lab's notebooks tidy: Colab badges, the Colab install line, normalized JSON.

    python tools/notebooks.py badges [--owner X] [--repo Y] [--branch Z]   (make badges)
    python tools/notebooks.py normalize [--check]                          (make format)
    python tools/notebooks.py check-badges
    python tools/notebooks.py check-verdicts
    python tools/notebooks.py refresh [NAME ...]                           (make refresh)

Owner, repo and branch live in one place only, ``[tool.repro-lab.github]`` in pyproject.toml;
``badges`` copies them into every notebook's badge cell and ``HELPERS_PIP_SPEC`` line and into
colab_badge.md. ``normalize`` strips what Jupyter or Colab add on every save (outputs, execution
counts, volatile metadata), so a diff shows only what a person changed; the outputs of
``# NBVAL_CHECK_OUTPUT`` cells stay, because nbval compares against them. What those cells must print
is written down in ``tests/verdicts/<notebook>.toml`` (see ``notebook_verdicts.py``): ``refresh``
stores only outputs that match it, and ``check-verdicts`` checks the stored ones.

Exit codes: 0 fine, 1 something to fix (listed one per line), 2 an error (one sentence).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import json
import re
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import nbformat
from nbformat.reader import NotJSONError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib  # type: ignore[no-redef]

# Module-level so the tests can point the tool at a temporary copy of the repo.
ROOT = Path(__file__).resolve().parents[1]

SECTION = "tool.repro-lab.github"
GITHUB_KEYS = ("owner", "repo", "branch")
BADGE_MD = "colab_badge.md"
NOTEBOOK_DIR = "notebooks"
VERDICT_MARKER = "# NBVAL_CHECK_OUTPUT"
PIP_SPEC_LINE = re.compile(r"^(?P<indent>[ \t]*)HELPERS_PIP_SPEC[ \t]*=.*$", re.MULTILINE)
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_GITHUB = "https://colab.research.google.com/github/"
# Any Colab link to a file on GitHub, wherever it appears (HTML attribute or Markdown link).
COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/(?P<owner>[^/\s\"'<>()]+)/(?P<repo>[^/\s\"'<>()]+)"
    r"/blob/(?P<rest>[^\s\"'<>()]+)"
)
# A cell that is only a badge: Colab's HTML form, or the Markdown form.
BADGE_ONLY = re.compile(
    r"<a\s[^>]*>\s*<img\s[^>]*colab-badge\.svg[^>]*>\s*</a>"
    r"|\[!\[[^\]]*\]\([^)\s]*colab-badge\.svg\)\]\([^)\s]*\)"
)
# What GitHub (and git) accept, and nothing that could break out of a URL, TOML or Python string.
VALID = {
    "owner": re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"),
    "repo": re.compile(r"^[A-Za-z0-9._-]{1,100}$"),
    "branch": re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*/$)(?!.*\.lock$)[A-Za-z0-9._/-]{1,200}$"),
}
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
# Cell metadata worth keeping: nbval and people read "tags"; Colab's "cellView" hides form code.
KEEP_CELL_METADATA = ("tags", "cellView")
# Widget views carry a fresh model id every run, so a verdict cell keeping one would always churn.
VOLATILE_MIME = ("application/vnd.jupyter.widget-view+json",)

SETUP_TEMPLATE = """\
# Colab has TensorFlow but not this lab's helpers: install them (and nothing else) from GitHub.
# Locally, `python tools/lab.py` installed them into .venv already, so this does nothing.
import importlib.util
import subprocess
import sys

IS_COLAB = "google.colab" in sys.modules
HELPERS_PIP_SPEC = "{spec}"
if IS_COLAB and importlib.util.find_spec("helpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", HELPERS_PIP_SPEC], check=True)"""


class ToolError(Exception):
    """Something the user must fix before the tool can run; the message is one sentence."""


class GitHub(NamedTuple):
    """Where the notebooks live on GitHub, as configured in pyproject.toml."""

    owner: str
    repo: str
    branch: str


# --------------------------------------------------------------------------- paths and config


def _root(root: Path | None) -> Path:
    # Looked up at call time, not import time, so monkeypatching ROOT works.
    return Path(root) if root is not None else ROOT


def notebook_paths(root: Path | None = None) -> list[Path]:
    """Every notebooks/*.ipynb, sorted by name (the order of colab_badge.md)."""
    return sorted((_root(root) / NOTEBOOK_DIR).glob("*.ipynb"))


def _rel(path: Path, root: Path | None = None) -> str:
    try:
        return path.relative_to(_root(root)).as_posix()
    except ValueError:
        return str(path)


def _read_pyproject(root: Path | None = None) -> dict:
    path = _root(root) / "pyproject.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ToolError(f"{path} does not exist; run this from the lab's repository.") from None
    except tomllib.TOMLDecodeError as err:
        raise ToolError(f"pyproject.toml is not valid TOML ({err}).") from None


def _check_value(key: str, value: object) -> str:
    if not isinstance(value, str) or not VALID[key].match(value):
        raise ToolError(f"[{SECTION}] {key} = {value!r} is not a valid GitHub {key} name.")
    return value


def _github_table(root: Path | None = None) -> object:
    return _read_pyproject(root).get("tool", {}).get("repro-lab", {}).get("github")


def load_github(root: Path | None = None) -> GitHub:
    """Owner, repo and branch from pyproject.toml's ``[tool.repro-lab.github]``, validated."""
    table = _github_table(root)
    if not isinstance(table, dict):
        raise ToolError(f"pyproject.toml has no [{SECTION}] table with owner, repo and branch.")
    missing = [key for key in GITHUB_KEYS if key not in table]
    if missing:
        raise ToolError(f"[{SECTION}] in pyproject.toml lacks {', '.join(missing)}.")
    return GitHub(*(_check_value(key, table[key]) for key in GITHUB_KEYS))


def project_name(root: Path | None = None) -> str:
    """The distribution name pip installs in Colab ([project].name)."""
    name = _read_pyproject(root).get("project", {}).get("name")
    if not isinstance(name, str) or not name:
        raise ToolError("pyproject.toml has no [project] name.")
    return name


def write_github(
    owner: str | None = None,
    repo: str | None = None,
    branch: str | None = None,
    root: Path | None = None,
) -> bool:
    """Set the given values in ``[tool.repro-lab.github]``; return True if the file changed.

    Only the value of each given key's line changes; every other byte (comments, order, the
    rest of the file) stays, which tomllib alone could not promise since it cannot write.
    """
    wanted = {k: v for k, v in {"owner": owner, "repo": repo, "branch": branch}.items() if v is not None}
    if not wanted:
        return False
    for key, value in wanted.items():
        _check_value(key, value)
    path = _root(root) / "pyproject.toml"
    if not isinstance(_github_table(root), dict):
        raise ToolError(f"pyproject.toml has no [{SECTION}] table to write owner, repo and branch into.")
    # Bytes in, bytes out: line endings (CRLF too) and everything else stay exactly as they were.
    old_text = path.read_bytes().decode("utf-8")
    lines = old_text.splitlines(keepends=True)

    header = re.compile(r"^\s*\[\s*tool\s*\.\s*repro-lab\s*\.\s*github\s*\]\s*(#.*)?$")
    key_line = re.compile(
        r"^(?P<lead>\s*(?P<key>owner|repo|branch)\s*=\s*)(?P<value>\"(?:[^\"\\]|\\.)*\"|'[^']*')(?P<tail>.*)$",
        re.DOTALL,
    )
    start = next((i for i, line in enumerate(lines) if header.match(line.rstrip("\r\n"))), None)
    if start is None:
        raise ToolError(f"pyproject.toml has no [{SECTION}] header line to edit.")
    found: set[str] = set()
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            break  # next table
        match = key_line.match(lines[i])
        if match and match["key"] in wanted:
            # Validated values hold no quote or backslash, so a plain TOML basic string is exact.
            lines[i] = f'{match["lead"]}"{wanted[match["key"]]}"{match["tail"]}'
            found.add(match["key"])
    if found != set(wanted):
        raise ToolError(
            f'[{SECTION}] in pyproject.toml does not have a simple `key = "value"` line for '
            f"{', '.join(sorted(set(wanted) - found))}; edit it by hand."
        )
    new_text = "".join(lines)
    if new_text == old_text:
        return False
    # The careful text edit must agree with a real TOML parser before it replaces the file.
    try:
        got = tomllib.loads(new_text)["tool"]["repro-lab"]["github"]
    except (tomllib.TOMLDecodeError, KeyError, TypeError):
        got = {}
    if any(got.get(key) != value for key, value in wanted.items()):
        raise ToolError(f"could not update [{SECTION}] in pyproject.toml safely; edit it by hand.")
    path.write_bytes(new_text.encode("utf-8"))
    return True


# --------------------------------------------------------------------------- badges


def _stem(name: str) -> str:
    return name[: -len(".ipynb")] if name.endswith(".ipynb") else name


def badge_url(name: str, github: GitHub | None = None, root: Path | None = None) -> str:
    """The Colab URL that opens notebooks/<name>.ipynb (``name`` with or without .ipynb)."""
    gh = github or load_github(root)
    return f"{COLAB_GITHUB}{gh.owner}/{gh.repo}/blob/{gh.branch}/{NOTEBOOK_DIR}/{_stem(name)}.ipynb"


def badge_cell_source(name: str, github: GitHub | None = None, root: Path | None = None) -> str:
    """The exact source of a notebook's cell 0: Colab's own badge HTML."""
    url = badge_url(name, github, root)
    return f'<a href="{url}" target="_parent"><img src="{BADGE_IMG}" alt="Open In Colab"/></a>'


def badge_markdown(name: str, github: GitHub | None = None, root: Path | None = None) -> str:
    """The badge as a Markdown image link, for colab_badge.md."""
    return f"[![Open In Colab]({BADGE_IMG})]({badge_url(name, github, root)})"


def pip_spec(github: GitHub | None = None, root: Path | None = None) -> str:
    """What the setup cell pip-installs in Colab: the lab only, straight from GitHub."""
    gh = github or load_github(root)
    return f"{project_name(root)} @ git+https://github.com/{gh.owner}/{gh.repo}@{gh.branch}"


def setup_cell_source(github: GitHub | None = None, root: Path | None = None) -> str:
    """The exact source of every notebook's setup code cell."""
    return SETUP_TEMPLATE.format(spec=pip_spec(github, root))


def is_badge_cell(cell: dict) -> bool:
    """True for a markdown cell that is nothing but a Colab badge (right or wrong target).

    A cell with a badge *and* other text (say the title) is not one: ``badges`` inserts a
    fresh badge cell before it rather than overwriting the text.
    """
    source = cell.get("source", "")
    source = ("".join(source) if isinstance(source, list) else source).strip()
    return cell.get("cell_type") == "markdown" and bool(BADGE_ONLY.fullmatch(source))


def notebook_title(nb: dict) -> str | None:
    """The notebook's H1 title: the first markdown line that starts with ``# ``."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for line in cell.get("source", "").splitlines():
            if line.startswith("# "):
                return line[2:].strip().rstrip("#").strip()
    return None


def _md_cell(text: str) -> str:
    # A "|" inside a table cell would end it early.
    return text.replace("|", r"\|")


def render_colab_badge_md(root: Path | None = None) -> str:
    """The whole text of colab_badge.md: title, one sentence, one table row per notebook."""
    gh = load_github(root)
    lines = [
        "# Open the notebooks in Colab",
        "",
        f"Each badge opens that notebook in Google Colab; `make badges` writes this file from "
        f"`[{SECTION}]` in pyproject.toml, so change that (for a fork) rather than this file.",
        "",
        "| notebook | what it shows | badge |",
        "| --- | --- | --- |",
    ]
    for path in notebook_paths(root):
        title = notebook_title(read_notebook(path, root))
        if title is None:
            raise ToolError(f"{_rel(path, root)} has no H1 title (a markdown line starting with '# ').")
        lines.append(
            f"| [`{path.name}`]({NOTEBOOK_DIR}/{path.name}) | {_md_cell(title)} | {badge_markdown(path.stem, gh)} |"
        )
    return "\n".join(lines) + "\n"


def set_badges(nb: nbformat.NotebookNode, name: str, root: Path | None = None) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the right badge as cell 0 and the right ``HELPERS_PIP_SPEC`` line."""
    gh = load_github(root)
    nb = copy.deepcopy(nb)
    source = badge_cell_source(name, gh)
    if nb.cells and is_badge_cell(nb.cells[0]):
        nb.cells[0].source = source
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(source))
    spec = pip_spec(gh, root)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = PIP_SPEC_LINE.sub(lambda m: f'{m["indent"]}HELPERS_PIP_SPEC = "{spec}"', cell.source)
    return nb


def badges(
    owner: str | None = None,
    repo: str | None = None,
    branch: str | None = None,
    root: Path | None = None,
) -> list[str]:
    """``make badges``: update pyproject (if asked), every notebook and colab_badge.md.

    Returns the repo-relative paths of the files it changed (none on a second run).
    """
    if not (_root(root) / NOTEBOOK_DIR).is_dir():
        raise ToolError(f"{_root(root) / NOTEBOOK_DIR} does not exist, so there are no notebooks to badge.")
    changed = []
    if write_github(owner, repo, branch, root):
        changed.append("pyproject.toml")
    for path in notebook_paths(root):
        nb = normalize_notebook(set_badges(read_notebook(path, root), path.stem, root), path.stem)
        if _write_if_changed(path, render_notebook(nb, path, root)):
            changed.append(_rel(path, root))
    md = _root(root) / BADGE_MD
    if _write_if_changed(md, render_colab_badge_md(root)):
        changed.append(BADGE_MD)
    return changed


def _split_target(rest: str) -> tuple[str, str]:
    """Split the part after ``/blob/`` into (branch, path): branches may contain slashes."""
    marker = f"/{NOTEBOOK_DIR}/"
    if marker in rest:
        branch, _, tail = rest.partition(marker)
        return branch, f"{NOTEBOOK_DIR}/{tail}"
    branch, _, path = rest.partition("/")
    return branch, path


def _link_problems(where: str, owner: str, repo: str, rest: str, gh: GitHub, root: Path) -> tuple[str, list[str]]:
    """Check one Colab link; return its target path and any problems with it."""
    branch, target = _split_target(rest)
    found = []
    if (owner, repo, branch) != (gh.owner, gh.repo, gh.branch):
        found.append(
            f"{where}: badge points at {owner}/{repo} branch {branch}, not {gh.owner}/{gh.repo} "
            f"branch {gh.branch}; run `make badges`."
        )
    if not (root / target).is_file():
        found.append(f"{where}: badge points at {target}, which does not exist.")
    return target, found


def _badge_cell_problems(path: Path, nb: nbformat.NotebookNode, gh: GitHub, root: Path) -> list[str]:
    rel = _rel(path, root)
    if not nb.cells or not is_badge_cell(nb.cells[0]):
        return [f"{rel}: cell 0 is not the Colab badge; run `make badges`."]
    links = list(COLAB_LINK.finditer(nb.cells[0].source))
    if not links:
        return [f"{rel}: the badge in cell 0 does not link to a notebook on GitHub; run `make badges`."]
    found: list[str] = []
    for link in links:
        target, link_found = _link_problems(f"{rel} cell 0", *link.group("owner", "repo", "rest"), gh, root)
        found += link_found
        if target != rel and (root / target).is_file():
            found.append(f"{rel} cell 0: badge points at {target}, not at this notebook; run `make badges`.")
    if not found and nb.cells[0].source != badge_cell_source(path.stem, gh):
        # Right target, other wording (say an old badge style): still not what `badges` writes.
        found.append(f"{rel}: cell 0 is not exactly the standard badge; run `make badges`.")
    return found


def problems(root: Path | None = None) -> list[str]:
    """Everything ``check-badges`` reports, one line each; empty when all is well."""
    root = _root(root)
    gh = load_github(root)
    spec_line = f'HELPERS_PIP_SPEC = "{pip_spec(gh, root)}"'
    found: list[str] = []
    paths = notebook_paths(root)
    for path in paths:
        rel = _rel(path, root)
        nb = read_notebook(path, root)
        found += _badge_cell_problems(path, nb, gh, root)
        specs = [m[0].strip() for c in nb.cells if c.cell_type == "code" for m in PIP_SPEC_LINE.finditer(c.source)]
        if not specs:
            found.append(f"{rel}: no setup cell sets HELPERS_PIP_SPEC, so Colab cannot install the helpers.")
        elif any(s != spec_line for s in specs):
            found.append(f"{rel}: the HELPERS_PIP_SPEC line is not `{spec_line}`; run `make badges`.")

    md = root / BADGE_MD
    if not md.is_file():
        found.append(f"{BADGE_MD} does not exist; run `make badges`.")
        return found
    text = md.read_text(encoding="utf-8")
    listed: set[str] = set()
    md_found: list[str] = []
    for link in COLAB_LINK.finditer(text):
        target, link_found = _link_problems(BADGE_MD, *link.group("owner", "repo", "rest"), gh, root)
        listed.add(target)
        md_found += link_found
    md_found += [
        f"{BADGE_MD}: {_rel(p, root)} has no badge; run `make badges`." for p in paths if _rel(p, root) not in listed
    ]
    if not md_found:
        try:
            expected = render_colab_badge_md(root)
        except ToolError:
            expected = text  # e.g. a missing title: reported by `make badges` itself, not here
        if text != expected:
            md_found.append(f"{BADGE_MD} is out of date (titles or wording); run `make badges`.")
    return found + md_found


# --------------------------------------------------------------------------- normalize


def read_notebook(path: Path, root: Path | None = None) -> nbformat.NotebookNode:
    """Read a notebook as nbformat v4, turning every kind of breakage into one ToolError."""
    rel = _rel(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ToolError(f"cannot read {rel} ({err}).") from None
    try:
        # nbformat.reads would validate and *log* errors for things normalize fixes (missing cell
        # ids), so read and convert here and validate the normalized result instead.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reader.reads(text)
            return nbformat.convert(nb, 4)
    except NotJSONError:
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            raise ToolError(f"{rel} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}).") from None
        raise ToolError(f"{rel} is not a JSON object, so not a notebook.") from None
    except Exception as err:  # nbformat raises assorted errors for JSON that is not a notebook
        raise ToolError(f"{rel} is not a Jupyter notebook ({err}).") from None


def is_verdict_cell(cell: dict) -> bool:
    """True for a code cell whose first line is ``# NBVAL_CHECK_OUTPUT``: its outputs are kept."""
    lines = cell.get("source", "").lstrip().splitlines()
    return cell.get("cell_type") == "code" and bool(lines) and lines[0].strip() == VERDICT_MARKER


def cell_id(name: str, index: int) -> str:
    """A cell id made from the notebook's name and the cell's position.

    Jupyter makes random ids; regenerating them from (name, index) means re-saving never
    churns them, and two notebooks never share one.
    """
    return hashlib.sha1(f"{_stem(name)}:{index}".encode()).hexdigest()[:8]


def _normalize_outputs(outputs: list) -> list:
    kept: list[nbformat.NotebookNode] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            # A kernel may flush one print in several chunks; merge so the split cannot churn.
            if kept and kept[-1].output_type == "stream" and kept[-1].name == out.get("name"):
                kept[-1].text += text
            else:
                kept.append(nbformat.v4.new_output("stream", name=out.get("name", "stdout"), text=text))
        elif kind in ("display_data", "execute_result"):
            data = {k: v for k, v in out.get("data", {}).items() if k not in VOLATILE_MIME}
            if data:
                # Output metadata (sizes, isolation flags) and the run's counter vary: drop them.
                kept.append(nbformat.v4.new_output(kind, data=data))
        else:
            kept.append(nbformat.from_dict(copy.deepcopy(dict(out))))
    return kept


def normalize_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A normalized copy of ``nb``: what ``make format`` writes. ``name`` seeds the cell ids.

    Code cells lose outputs and execution counts, except ``# NBVAL_CHECK_OUTPUT`` cells, which
    keep their outputs (nbval's reference) with the volatile parts removed, and always count 1:
    nbval skips a cell without a count, so a verdict cell whose output was cleared would
    otherwise drop out of the check silently; with a count, nbval fails it. Notebook metadata
    becomes kernelspec + language name; cell metadata keeps only KEEP_CELL_METADATA.
    """
    nb = copy.deepcopy(nb)
    new = nbformat.v4.new_notebook()  # nbformat 4.5: the first minor with cell ids
    new.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    for index, cell in enumerate(nb.get("cells", [])):
        kind = cell.get("cell_type")
        # Editors disagree about a final newline in a cell; Jupyter saves none.
        source = cell.get("source", "")
        source = ("".join(source) if isinstance(source, list) else source).rstrip("\n")
        if kind == "code":
            out = nbformat.v4.new_code_cell(source)
            if is_verdict_cell(cell):
                out.outputs = _normalize_outputs(cell.get("outputs", []))
                out.execution_count = 1
        elif kind == "markdown":
            out = nbformat.v4.new_markdown_cell(source)
            if cell.get("attachments"):
                out.attachments = cell["attachments"]  # pasted images live here
        else:
            out = nbformat.v4.new_raw_cell(source)
        metadata = cell.get("metadata", {})
        out.metadata = nbformat.from_dict({k: metadata[k] for k in KEEP_CELL_METADATA if metadata.get(k)})
        out.id = cell_id(name, index)
        new.cells.append(out)
    return new


def render_notebook(nb: nbformat.NotebookNode, path: Path | None = None, root: Path | None = None) -> str:
    """The exact file text for ``nb``: what nbformat.write produces (1-space indent, final newline)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(nb)
    except nbformat.ValidationError as err:
        where = _rel(path, root) if path is not None else "the notebook"
        raise ToolError(f"{where} is not a valid nbformat 4 notebook ({err.message}).") from None
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def _write_if_changed(path: Path, text: str) -> bool:
    # Never touch an unchanged file: a second run must be a no-op, mtimes included.
    data = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return False
    try:
        path.write_bytes(data)
    except OSError as err:
        raise ToolError(f"cannot write {path} ({err.strerror}).") from None
    return True


def normalized_text(path: Path, root: Path | None = None) -> str:
    """What ``make format`` would write to ``path``."""
    return render_notebook(normalize_notebook(read_notebook(path, root), path.stem), path, root)


def normalize_problems(root: Path | None = None) -> list[str]:
    """One line per notebook that ``make format`` would change; changes nothing."""
    return [
        f"{_rel(path, root)} is not normalized; run `make format`."
        for path in notebook_paths(root)
        if path.read_bytes() != normalized_text(path, root).encode("utf-8")
    ]


def normalize(root: Path | None = None) -> list[str]:
    """``make format``: rewrite every notebook that is not normalized; return their paths."""
    return [_rel(path, root) for path in notebook_paths(root) if _write_if_changed(path, normalized_text(path, root))]


# --------------------------------------------------------------------------- verdicts


def _verdicts() -> ModuleType:
    """tools/notebook_verdicts.py. tools/ is a folder of scripts, not a package, so the sibling is
    loaded by path; only the verdict commands need it."""
    name = "repro_lab_notebook_verdicts"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("notebook_verdicts.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def verdict_cells(nb: dict) -> list[tuple[int, dict]]:
    """(index, cell) of every ``# NBVAL_CHECK_OUTPUT`` cell, in order."""
    return [(index, cell) for index, cell in enumerate(nb.get("cells", [])) if is_verdict_cell(cell)]


def expected_verdicts(name: str, root: Path | None = None) -> list[str] | None:
    """What notebook ``name``'s verdict cells must print, from its registry; None if it has none."""
    verdicts = _verdicts()
    path = _root(root) / verdicts.registry_path(name)
    if not path.is_file():
        return None
    try:
        return verdicts.parse_registry(path.read_text(encoding="utf-8"), _rel(path, root))
    except verdicts.RegistryError as err:
        raise ToolError(str(err)) from None


def verdict_problems(root: Path | None = None) -> list[str]:
    """Every stored verdict output that differs from its registry, one line each (``check-verdicts``)."""
    verdicts = _verdicts()
    found = []
    paths = notebook_paths(root)
    for path in paths:
        rel, registry = _rel(path, root), verdicts.registry_path(path.stem).as_posix()
        cells = verdict_cells(read_notebook(path, root))
        expected = expected_verdicts(path.stem, root)
        if expected is None:
            if cells:
                found.append(f"{rel} has {len(cells)} verdict cells but {registry} does not exist; write the "
                             f"lines each must print there.")
            continue
        found += verdicts.cell_problems(rel, cells, expected, registry)
    registries = sorted((_root(root) / verdicts.REGISTRY_DIR).glob("*.toml"))
    names = {p.stem for p in paths}
    found += [f"{_rel(p, root)} belongs to no notebook in {NOTEBOOK_DIR}/; rename or delete it."
              for p in registries if p.stem not in names]
    return found


def refresh(names: list[str], root: Path | None = None, timeout: int = 600) -> tuple[list[str], list[str]]:
    """Run notebooks top to bottom in a kernel of this Python and keep the verdict cells' new
    outputs as nbval's reference (every other output is stripped by normalizing).

    A notebook is written only if every verdict cell printed exactly what its registry
    (``tests/verdicts/<name>.toml``) says; otherwise it is left as it was and the differences
    are returned. Returns (refreshed paths, problems). Review the diff before committing.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    verdicts = _verdicts()
    paths = notebook_paths(root)
    if names:
        wanted = {n.removesuffix(".ipynb") for n in names}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            raise ToolError(f"no notebook named {', '.join(sorted(unknown))} in notebooks/.")
        paths = [p for p in paths if p.stem in wanted]
    plans = []
    for path in paths:  # every registry is read before the first (slow) run
        nb = read_notebook(path, root)
        expected = expected_verdicts(path.stem, root)
        if expected is None and verdict_cells(nb):
            registry = verdicts.registry_path(path.stem).as_posix()
            raise ToolError(f"{_rel(path, root)} has verdict cells but no {registry}; "
                            f"write the lines each verdict cell must print there first.")
        plans.append((path, nb, expected or []))
    done, refused = [], []
    for path, nb, expected in plans:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as err:
            first = str(err).strip().splitlines()[-1:] or ["a cell failed"]
            raise ToolError(f"{_rel(path, root)} did not run to the end: {first[0]}") from None
        fresh = normalize_notebook(nb, path.stem)
        found = verdicts.cell_problems(_rel(path, root), verdict_cells(fresh), expected,
                                       verdicts.registry_path(path.stem).as_posix())
        if found:
            refused += [f"not stored: {line}" for line in found]
            continue
        _write_if_changed(path, render_notebook(fresh, path, root))
        done.append(_rel(path, root))
    return done, refused


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tools/notebooks.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_badges = sub.add_parser("badges", help="write Colab badges, the install line and colab_badge.md")
    for key in GITHUB_KEYS:
        p_badges.add_argument(f"--{key}", help=f"first set [{SECTION}] {key} in pyproject.toml")
    p_norm = sub.add_parser("normalize", help="strip outputs and volatile metadata from the notebooks")
    p_norm.add_argument("--check", action="store_true", help="change nothing; exit 1 if any notebook would change")
    sub.add_parser("check-badges", help="exit 1 if a badge, install line or colab_badge.md is wrong")
    sub.add_parser("check-verdicts", help="exit 1 if a stored verdict output differs from tests/verdicts/")
    p_refresh = sub.add_parser("refresh", help="run notebooks; keep their verdict outputs as nbval's reference "
                                               "if they match tests/verdicts/")
    p_refresh.add_argument("names", nargs="*", help="notebook names (default: all)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "badges":
            changed = badges(args.owner, args.repo, args.branch)
            print("\n".join(f"updated {p}" for p in changed) or "badges: nothing to change")
            return 0
        if args.command == "normalize":
            if args.check:
                found = normalize_problems()
                print("\n".join(found) or "all notebooks are normalized")
                return 1 if found else 0
            changed = normalize()
            print("\n".join(f"normalized {p}" for p in changed) or "all notebooks were already normalized")
            return 0
        if args.command == "refresh":
            done, refused = refresh(args.names)
            print("\n".join([*(f"refreshed {p}" for p in done), *refused]))
            return 1 if refused else 0
        if args.command == "check-verdicts":
            found = verdict_problems()
            print("\n".join(found) or "every stored verdict is what tests/verdicts/ expects")
            return 1 if found else 0
        found = problems()
        print("\n".join(found) or "badges are all correct")
        return 1 if found else 0
    except ToolError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
