"""``python -m helpers`` and the ``keras-repro-lab`` command: the lab's command line (``--help`` lists it).

A learner runs the card command in their own environment, which may hold a Python too old for the
lab (3.7 and 3.8 are common beside TensorFlow 2.10 on Windows). So this file, and ``helpers/__init__.py``
which Python runs first, use only syntax and library calls that Python 3.6 understands, and refuse
an older Python in one sentence before anything else of the lab is imported (and fails to parse).
"""

import sys

MINIMUM_PYTHON = (3, 9)
COMMAND = "keras-repro-lab"  # the console command pip installs (pyproject.toml, [project.scripts])


def too_old_sentence(version_info=sys.version_info) -> str:
    """Why this Python cannot run the lab, or "" when it can."""
    if tuple(version_info[:2]) >= MINIMUM_PYTHON:
        return ""
    here = ".".join(str(part) for part in version_info[:3])
    return (f"the lab needs Python 3.9 or newer and this is Python {here}: run it with the Python 3.9 to 3.13 of "
            "an environment that has your TensorFlow 2.10 or newer (see docs/your-environment.md).")


def run(prog: str = COMMAND) -> int:
    """The command line under the name ``prog``; exit code 2 with one sentence on an old Python."""
    refusal = too_old_sentence()
    if refusal:
        sys.stderr.write(f"{prog}: error: {refusal}\n")
        return 2
    from helpers.cli import main

    return main(prog=prog)


def worker() -> None:
    """A worker process of the lab's runner (started as ``python -c BOOTSTRAP LAB_FOLDER``, see
    helpers.running.processes). On a Python too old for the lab it answers every request with the
    sentence that says so, instead of failing to import the worker."""
    refusal = too_old_sentence()
    if not refusal:
        from helpers.running.worker import main

        main()
        return
    import json

    for line in sys.stdin:
        if line.strip():
            sys.stdout.write(json.dumps({"ok": False, "fatal": True, "error": refusal}) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(run("python -m helpers"))
