"""Run one of the article's examples verbatim, as a script, and print its results as JSON."""

from __future__ import annotations

import argparse
import contextlib
import json
import runpy
import sys
import time

from helpers.article import EXAMPLES


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.article", description=__doc__)
    parser.add_argument("example", type=int, choices=sorted(EXAMPLES), help="which of the article's examples")
    args = parser.parse_args()
    started = time.perf_counter()
    # The script's own print goes to stderr so stdout carries only the JSON answer.
    with contextlib.redirect_stdout(sys.stderr):
        namespace = runpy.run_path(str(EXAMPLES[args.example]), run_name="__main__")
    from helpers.weights import weights_sha256

    print(json.dumps({
        "example": args.example,
        "test_accuracy": float(namespace["test_accuracy"]),
        "test_loss": float(namespace["test_loss"]),
        "weights_sha256": weights_sha256(namespace["model"].get_weights()),
        "seconds": time.perf_counter() - started,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
