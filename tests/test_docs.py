"""The API reference site (mkdocs.yml) builds with warnings as errors, as `make docs` builds it.

A docstring mkdocstrings cannot parse, a page missing from the navigation, a broken link or an
include of a file that moved fails this test.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("mkdocs", "mkdocstrings_handlers")),
    reason="the docs extra is not installed (pip install -e '.[docs]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}{done.stderr}"
    return out


def test_api_pages_are_built_from_the_docstrings(site):
    nmf = (site / "api" / "nmf" / "index.html").read_text(encoding="utf-8")
    for name in ("NMF", "NMFD", "NMF2D", "NMF3D", "BatchNMF"):
        assert f'id="nmfsep.nmf.{name}"' in nmf
    assert "Parameters" in nmf  # numpydoc sections parsed, not shown as text
    separation = (site / "api" / "separation" / "index.html").read_text(encoding="utf-8")
    assert 'id="nmfsep.separation.Separator"' in separation
    # numpydoc's roles (:func:`load`) became links (scripts/griffe_roles.py), not literal text
    for page in (nmf, separation):
        assert ":func:`" not in page and ":class:`" not in page
    assert 'class="autorefs autorefs-internal"' in separation


def test_every_public_module_has_an_api_page():
    # a root module added later (a new public face) needs its page: docs/api/<name>.md
    modules = sorted(p.stem for p in (ROOT / "nmfsep").glob("*.py") if not p.stem.startswith("_"))
    assert modules, "no public root module found"
    for name in modules + ["compat"]:
        page = ROOT / "docs" / "api" / f"{name}.md"
        assert page.is_file() and f"::: nmfsep.{name}" in page.read_text(encoding="utf-8"), name
        assert f"api/{name}.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), name


def test_pages_from_elsewhere_are_included_with_their_tables(site):
    # one page per recipe, the README with the measured tables that run.py writes
    for recipe in sorted(p.parent.name for p in (ROOT / "recipes").glob("*/README.md")):
        page = (site / "recipes" / recipe / "index.html").read_text(encoding="utf-8")
        assert "<table>" in page, recipe
    # a plot that an included file shows is copied into the site
    for page in site.rglob("*.html"):
        for image in re.findall(r'<img[^>]* src="([^"]+)"', page.read_text(encoding="utf-8")):
            if "://" not in image:
                assert (page.parent / image).resolve().is_file(), (page, image)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "Audio source separation with non-negative factorisations" in index
    assert "--8&lt;--" not in index and '--8<--' not in index


def test_links_to_included_files_go_to_their_pages():
    # a page's link to a repository file that another page includes goes to that page; a link
    # written in an included file is read from that file's folder; one to a file that is not
    # Markdown goes to the site's copy under repository/; external links keep their target
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "scripts" / "mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    docs = ROOT / "docs"
    hooks._included_by.clear()
    hooks._included_by[ROOT / "benchmarks" / "README.md"] = Path("benchmarks.md")
    text = "see [the numbers](../benchmarks/README.md#speed) and ![plot](streaming.png)"
    assert hooks._rewrite_links(text, docs / "streaming.md", Path("streaming.md"), docs) == (
        "see [the numbers](benchmarks.md#speed) and ![plot](streaming.png)")
    text = "[bench](../../benchmarks/README.md), [cfg](run.py), [web](https://x.org/a.md)"
    assert hooks._rewrite_links(text, ROOT / "recipes" / "piano-roll" / "README.md",
                                Path("recipes/piano-roll.md"), docs) == (
        "[bench](../benchmarks.md), [cfg](../repository/recipes/piano-roll/run.py), "
        "[web](https://x.org/a.md)")
