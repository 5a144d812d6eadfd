"""sok as a user installs it: a fresh virtual environment, the package from
this checkout with no extras (as the README's first line does, but as a
wheel, not editable), and the commands run from another folder. The default
install must index on the fast ONNX route without torch, say so, and
`sok serve` must find its app inside the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, streamlit_server

ROOT = Path(__file__).resolve().parents[1]
DEMO_FILE = ROOT / "corpus" / "region-orebro" / "2023_aterrapportering_beredning_for_nara_vard.md"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin folder of a new venv with `pip install <checkout>` (no -e, no extras)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return venv / "bin"


def run(bin_dir: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SOK_INDEX")}
    return subprocess.run([str(bin_dir / "sok"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def test_default_install_has_no_torch_and_indexes_on_the_onnx_route(installed, tmp_path):
    no_torch = subprocess.run([str(installed / "python"), "-c", "import torch"], capture_output=True, text=True)
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr

    folder = tmp_path / "handlingar"
    folder.mkdir()
    shutil.copy(DEMO_FILE, folder)
    done = run(installed, ["--index", str(tmp_path / "idx"), "index", str(folder)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Bäddar in med onnx-e5-int8" in done.stdout + done.stderr
    assert "Varning" not in done.stderr  # no fallback to the slow route

    found = run(installed, ["--index", str(tmp_path / "idx"), "search", "SIP", "-k", "1"], cwd=tmp_path)
    assert found.returncode == 0 and "aterrapportering" in found.stdout


def test_serve_runs_the_app_from_the_installed_package(installed, tmp_path):
    """From a folder with no app.py anywhere near it: the installed wheel carries the app."""
    folder = tmp_path / "handlingar"
    folder.mkdir()
    shutil.copy(DEMO_FILE, folder)
    index = tmp_path / "idx"
    assert run(installed, ["--index", str(index), "index", str(folder), "-q"], cwd=tmp_path).returncode == 0
    port = free_port()
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SOK_INDEX")}
    cmd = [str(installed / "sok"), "--index", str(index), "serve", "--port", str(port)]
    with streamlit_server(cmd, port, log, tmp_path, env) as url:
        with urllib.request.urlopen(f"{url}/fil/1", timeout=10) as r:  # the file route of the package's app
            assert r.status == 200 and "SIP" in r.read().decode("utf-8")
