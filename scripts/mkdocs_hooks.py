"""MkDocs hooks of the reference site (``mkdocs.yml``): pages that live elsewhere in the repository.

A line ``--8<-- "path"`` in a page under ``docs/`` is replaced by that file (a path from the
repository root), so the README, the recipe READMEs with their measured tables and the benchmark
notes have one home and the site shows them as they are. Relative links are rewritten for the
site: a link from a page or an included file to a file that the site includes goes to the page
that includes it; a link from an included file to another repository file that is not Markdown
(a plot) goes to a copy of it under ``repository/``; any other link keeps its target, and MkDocs'
strict build refuses it if that target is not a page.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r'^--8<-- "([^"]+)"\s*$', re.MULTILINE)
# [text](target) and ![alt](target); the target without its #anchor
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s#]+)(#[^)\s]*)?\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:|^/")
ASSETS = "repository"  # the site's folder of copied repository files (plots that pages show)

_included_by: dict = {}  # repository path of an included file -> docs page that includes it


def _docs_dir(config) -> Path:
    return Path(config["docs_dir"]).resolve()


def on_files(files, config):
    """Note which page includes which file, and copy the repository files outside ``docs/``
    that pages or included files link to and that are not Markdown (under ``repository/``),
    before any page is rendered."""
    _included_by.clear()
    docs = _docs_dir(config)
    written = []  # the pages and the files they include: where links are written
    for file in files.documentation_pages():
        page = Path(file.abs_src_path).resolve()
        written.append(page)
        for path in INCLUDE.findall(page.read_text(encoding="utf-8")):
            source = (ROOT / path).resolve()
            _included_by[source] = page.relative_to(docs)
            written.append(source)
    for source in written:
        if not source.is_file():
            continue  # on_page_markdown names the missing include
        for match in LINK.finditer(source.read_text(encoding="utf-8")):
            target = (source.parent / match.group(2)).resolve()
            if (EXTERNAL.match(match.group(2)) or target.suffix == ".md" or not target.is_file()
                    or docs in target.parents or ROOT not in target.parents):
                continue
            uri = f"{ASSETS}/{target.relative_to(ROOT).as_posix()}"
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(target)))
    return files


def _rewrite_links(text: str, source: Path, page: Path, docs: Path) -> str:
    """Links of ``text`` (written in the repository file ``source``) as the docs page ``page``
    (a path under ``docs``) must write them."""

    def relink(match):
        target = match.group(2)
        if EXTERNAL.match(target):
            return match.group(0)
        resolved = (source.parent / target).resolve()
        if resolved in _included_by:
            resolved = docs / _included_by[resolved]
        elif (resolved.suffix != ".md" and resolved.is_file() and docs not in resolved.parents
              and ROOT in resolved.parents):
            resolved = docs / ASSETS / resolved.relative_to(ROOT)  # copied by on_files
        new = posixpath.relpath(resolved.as_posix(), (docs / page).parent.as_posix())
        return f"{match.group(1)}{new}{match.group(3) or ''})"

    return LINK.sub(relink, text)


def on_page_markdown(markdown, page, config, files):
    docs = _docs_dir(config)
    page_path = Path(page.file.src_uri)
    source = docs / page_path

    def include(name: str) -> str:
        path = ROOT / name
        if not path.is_file():
            raise FileNotFoundError(f"{page.file.src_uri} includes {name!r}, which is not a file "
                                    f"of the repository (paths are from its root)")
        return _rewrite_links(path.read_text(encoding="utf-8"), path, page_path, docs)

    # split() alternates the page's own text and the included paths: each text's links are
    # rewritten from the folder of the file it was written in
    parts = INCLUDE.split(markdown)
    return "".join(include(part) if index % 2 else _rewrite_links(part, source, page_path, docs)
                   for index, part in enumerate(parts))
