"""The version is written once, as ``nmfsep.__version__``; the package metadata reads it from there."""

import importlib.metadata
import re
from pathlib import Path

import nmfsep

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_reads_the_version_from_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = pyproject.split("[project]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^dynamic = \[[^\]]*"version"', project, re.MULTILINE)
    assert not re.search(r"^version\s*=", project, re.MULTILINE), "a second, static version"
    assert 'version = { attr = "nmfsep.__version__" }' in pyproject


def test_installed_metadata_has_the_packages_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", nmfsep.__version__)
    installed = importlib.metadata.version("nmfsep")
    assert installed == nmfsep.__version__, (
        f"the installed metadata says {installed}, nmfsep.__version__ {nmfsep.__version__}: "
        f"reinstall (pip install -e .) after changing the version")
