"""``python -m helpers``: the lab's command line (see ``python -m helpers --help``)."""

from helpers.cli import main

raise SystemExit(main())
