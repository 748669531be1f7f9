"""Keep the lab's notebooks tidy: title and buttons, the Colab setup cell, normalized JSON, verdicts.

    python tools/notebooks.py badges [--owner X] [--repo Y] [--branch Z]   (make badges)
    python tools/notebooks.py normalize [--check]                          (make format)
    python tools/notebooks.py check-badges
    python tools/notebooks.py check-verdicts
    python tools/notebooks.py refresh [NAME ...]                           (make refresh)

Owner, repo and branch live in one place only, ``[tool.repro-lab.github]`` in pyproject.toml;
``badges`` copies them into every notebook's button bar (cell 1, after the title alone in cell 0)
and setup cell, into colab_badge.md and into README's notebooks table, and gives every notebook
the metadata Colab reads (its name, the table of contents, a GPU where the notebook wants one).
``normalize`` strips what Jupyter or Colab add on every save (outputs, execution counts, volatile
metadata), so a diff shows only what a person changed; the outputs of ``# NBVAL_CHECK_OUTPUT``
cells stay, because nbval compares against them. What those
cells must print is written down in ``tests/verdicts/<notebook>.toml``: ``refresh`` stores only
outputs that match it, and ``check-verdicts`` checks the stored ones. The work is done by the
modules of ``tools/notebook_tools/``, one per job; this file is only the command line.

Exit codes: 0 fine, 1 something to fix (listed one per line), 2 an error (one sentence).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if not __package__:  # run as `python tools/notebooks.py`: import the tools from this checkout
    sys.path.insert(0, str(REPO))

from tools.notebook_tools import badges, normalize, refresh, verdicts  # noqa: E402
from tools.notebook_tools.files import ToolError  # noqa: E402
from tools.notebook_tools.pyproject import GITHUB_KEYS, SECTION  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tools/notebooks.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_badges = sub.add_parser("badges", help="write titles, button bars, setup cells, Colab metadata, colab_badge.md "
                                                   "and README's table")
    for key in GITHUB_KEYS:
        p_badges.add_argument(f"--{key}", help=f"first set [{SECTION}] {key} in pyproject.toml")
    p_norm = sub.add_parser("normalize", help="strip outputs and volatile metadata from the notebooks")
    p_norm.add_argument("--check", action="store_true", help="change nothing; exit 1 if any notebook would change")
    sub.add_parser("check-badges", help="exit 1 if a title, button bar, setup cell, Colab metadata, "
                                         "colab_badge.md or README's table is wrong")
    sub.add_parser("check-verdicts", help="exit 1 if a stored verdict output differs from tests/verdicts/")
    p_refresh = sub.add_parser("refresh", help="run notebooks; keep their verdict outputs as nbval's reference "
                                               "if they match tests/verdicts/")
    p_refresh.add_argument("names", nargs="*", help="notebook names (default: all)")
    return parser


def _report(found: list[str], fine: str) -> int:
    print("\n".join(found) or fine)
    return 1 if found else 0


def main(argv: list[str] | None = None, root: Path = REPO) -> int:
    """Run the CLI on the repository at ``root``; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "badges":
            changed = badges.update(root, args.owner, args.repo, args.branch)
            print("\n".join(f"updated {p}" for p in changed) or "badges: nothing to change")
            return 0
        if args.command == "normalize":
            if args.check:
                return _report(normalize.problems(root), "all notebooks are normalized")
            changed = normalize.update(root)
            print("\n".join(f"normalized {p}" for p in changed) or "all notebooks were already normalized")
            return 0
        if args.command == "refresh":
            done, refused = refresh.run(root, args.names)
            print("\n".join([*(f"refreshed {p}" for p in done), *refused]))
            return 1 if refused else 0
        if args.command == "check-verdicts":
            return _report(verdicts.problems(root), "every stored verdict is what tests/verdicts/ expects")
        return _report(badges.problems(root), "badges are all correct")
    except ToolError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
