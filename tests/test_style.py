"""Checked style: ruff (configured in pyproject.toml) finds nothing in the code and its tests.

The rules are ``[tool.ruff.lint]``'s; fix a finding where it is, or mark a deliberate exception
with ``# noqa: CODE - why`` (see DEVELOPERS.md).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["nmfsep", "tests", "benchmarks", "recipes", "scripts/mkdocs_hooks.py",
           "scripts/griffe_roles.py"]


def _ruff():
    """The ruff beside this Python (the venv's), else one on PATH; skip without either."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.exists():
        return str(beside)
    found = shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    return found


def test_ruff_finds_nothing():
    done = subprocess.run([_ruff(), "check", "--no-cache", "--output-format", "concise", *CHECKED],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"ruff check {' '.join(CHECKED)}:\n{done.stdout}{done.stderr}"


def test_ruff_reads_the_projects_rules():
    # a check that passes because ruff ran without pyproject.toml's rules would prove nothing
    done = subprocess.run([_ruff(), "check", "--show-settings", "nmfsep/__init__.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert str(ROOT / "pyproject.toml") in done.stdout
    assert "import-outside-top-level (PLC0415)" in done.stdout
    assert "unsorted-imports (I001)" in done.stdout
