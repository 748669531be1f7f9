"""Moving cards in and out of Colab: download this machine's card, upload someone else's.

In Colab, ``google.colab.files`` sends a file to the browser's downloads and asks the browser
for files to upload. Locally there is nothing to move -- a card is a file on disk -- so these
functions say where the file is, or ask for a path, in one sentence.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from helpers.cards.fileformat import MAX_CARD_BYTES
from helpers.core.config import ConfigError
from helpers.machines.fingerprint import in_colab

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def offer_download(path: str | Path) -> str:
    """In Colab, start the browser's download of ``path``; elsewhere say where the file is."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"there is no file at {path} to download; make the card first.")
    if in_colab():
        from google.colab import files  # type: ignore[import-not-found]

        files.download(str(path))
        return f"Your browser is downloading {path.name}; send it to whoever you compare with."
    return f"The card is at {path.resolve()}; send that file to whoever you compare with."


def upload_cards(folder: str | Path = "cards") -> list[Path]:
    """In Colab, ask the browser for card files and save them in ``folder``; return their paths.

    File names are reduced to safe characters, and files over the card size limit are refused
    before they are written (the loader checks everything else).
    """
    if not in_colab():
        raise ConfigError("uploading works in Colab; here, put the card files in a folder and give their paths.")
    from google.colab import files  # type: ignore[import-not-found]

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, data in files.upload().items():
        if len(data) > MAX_CARD_BYTES:
            print(f"{name} skipped: {len(data) / 1e6:.1f} MB is more than a card can be.", file=sys.stderr)
            continue
        target = folder / (_SAFE_NAME.sub("_", Path(name).name).strip("._") or "card.json")
        target.write_bytes(data)
        saved.append(target)
    return saved
