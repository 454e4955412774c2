"""A normal (non-editable) install works outside the checkout: the frozen suites ship as package data,
so `load_suite` finds them without CFCODE_SUITES_DIR and without the repository."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".nox", "runs", "build", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".hypothesis", ".cache", "tests", "benchmarks")


@pytest.mark.slow
def test_load_suite_from_a_non_editable_install(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=NOT_SOURCE)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Dependencies (and setuptools for the build) come from this environment's site-packages, added
    # as a plain path: its .pth files, the editable install's finder among them, are not run.
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
                    "--no-build-isolation", str(src)], check=True, cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("CFCODE_SUITES_DIR", "PYTHONPATH")}
    out = subprocess.run(
        [str(py), "-c", "import generators; s = generators.load_suite('while', 'counterfactual');"
                        "print(generators.__file__); print(len(s), s[0].family)"],
        check=True, capture_output=True, text=True, cwd=tmp_path, env=env,
    ).stdout.split("\n")
    assert Path(out[0]).is_relative_to(venv), out[0]  # the installed copy, not the checkout
    assert out[1] == "300 while"
