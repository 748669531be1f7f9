"""Building environments: uv with the system's certificates and pip's settings, venv + pip when uv fails.

Real environments are made (with ``venv``, no download: pip is asked for pip, which a new venv has);
uv is replaced by small scripts that fail the way uv fails on a network that inspects TLS.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers.stacks import installers as I

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fake uv is a shell script")


def fake_uv(folder: Path, message: str = "error: invalid peer certificate: UnknownIssuer") -> Path:
    """A 'uv' that records its environment and fails as uv does without the right certificates."""
    script = folder / "uv"
    script.write_text(f"#!/bin/sh\nenv > {folder / 'uv-env.txt'}\necho '{message}' >&2\nexit 2\n")
    script.chmod(0o755)
    return script


def test_uv_gets_the_system_certificates_and_pips_settings() -> None:
    pip = {"index-url": "https://mirror.example/simple", "extra-index-url": "https://a.example/simple\n  https://b.example",
           "find-links": "/opt/wheels", "cert": "/etc/company-ca.pem"}
    env = I.uv_environment({"PATH": "/bin"}, pip=pip)
    assert env["UV_SYSTEM_CERTS"] == "1"
    assert env["UV_DEFAULT_INDEX"] == "https://mirror.example/simple"
    assert env["UV_INDEX"] == "https://a.example/simple https://b.example"
    assert env["UV_FIND_LINKS"] == "/opt/wheels" and env["SSL_CERT_FILE"] == "/etc/company-ca.pem"
    # pip picks the best version across all its indexes; uv must too, not stop at the first that has the package.
    assert env["UV_INDEX_STRATEGY"] == "unsafe-best-match"
    assert "UV_INDEX_STRATEGY" not in I.uv_environment({"PATH": "/bin"}, pip={"cert": "/etc/company-ca.pem"})
    # Settings made for uv itself win over pip's.
    assert I.uv_environment({"UV_DEFAULT_INDEX": "https://uv.example"}, pip=pip)["UV_DEFAULT_INDEX"] == \
        "https://uv.example"


def test_pips_settings_come_from_its_config_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho \"global.index-url='https://config.example/simple'\"\n"
                      "echo \"global.timeout='60'\"\necho \"install.find-links='/srv/wheels'\"\n")
    python.chmod(0o755)
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "PIP_CLIENT_CERT"):
        monkeypatch.delenv(name, raising=False)
    assert I.pip_settings(str(python)) == {"index-url": "https://config.example/simple", "find-links": "/srv/wheels"}
    monkeypatch.setenv("PIP_INDEX_URL", "https://env.example/simple")  # pip's own order: environment first
    assert I.pip_settings(str(python))["index-url"] == "https://env.example/simple"


def test_a_failing_uv_build_is_done_again_with_venv_and_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uv = fake_uv(tmp_path)
    monkeypatch.setattr(I, "uv_binary", lambda: str(uv))
    folder = tmp_path / "env"
    installer = I.build_environment(sys.executable, folder, [["pip"]])
    assert installer == "pip"
    assert I.env_python(folder).exists()
    assert "UV_SYSTEM_CERTS=1" in (tmp_path / "uv-env.txt").read_text()  # uv was tried, with the certificates


def test_uv_compiles_the_bytecode_once_after_the_last_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "uv-calls.txt"
    uv = tmp_path / "uv"
    uv.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')  # a uv that succeeds and records what it was asked
    uv.chmod(0o755)
    monkeypatch.setattr(I, "uv_binary", lambda: str(uv))
    assert I.build_environment(sys.executable, tmp_path / "env", [["pip"], ["numpy"]]) == "uv"
    created, first, last = calls.read_text().splitlines()
    assert created.startswith("venv") and first.startswith("pip install") and last.startswith("pip install")
    assert "--compile-bytecode" not in first and "--compile-bytecode" in last and last.endswith("numpy")


def test_uv_is_used_when_it_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uv = I.uv_binary()
    if uv is None:
        pytest.skip("uv is not installed here")
    folder = tmp_path / "env"
    # `uv pip install pip` needs an index; give it none it can reach, so only the venv step is checked for real.
    monkeypatch.setenv("UV_OFFLINE", "1")
    installer = I.build_environment(sys.executable, folder, [])
    assert installer == "uv" and I.env_python(folder).exists()


def test_when_neither_can_build_it_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(I, "uv_binary", lambda: str(fake_uv(tmp_path)))
    with pytest.raises(I.InstallError) as caught:
        I.build_environment(sys.executable, tmp_path / "env", [["--no-index", "no-such-package-here"]])
    message = str(caught.value)
    assert message.startswith("uv and pip could not build the environment: ") and "\n" not in message
    assert caught.value.installer == "pip" and "no-such-package-here" in caught.value.output
