"""The import-layers contract (DEVELOPERS.md): each layer imports only the layers under it.

``nmfsep/_core`` (models and solvers) knows nothing of audio: it imports no other part of nmfsep
and neither torchaudio nor soundfile. ``nmfsep/_pipeline`` (audio) imports the core and itself,
never ``nmfsep/_apps`` (CLI, recipes, plots, evaluation) nor the root modules that re-export it.
Under every layer, ``nmfsep/_errors.py`` (the base of nmfsep's exceptions) imports nothing.
Read from the source with ``ast``, so an import inside a function (a lazy one) counts too.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nmfsep"
# Under every layer: the base class of nmfsep's exceptions (imports nothing, not even torch).
BASE = ("nmfsep._errors",)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path):
    """Every module an ``import`` or ``from ... import`` in ``path`` names, absolute, with its line.

    ``from package import name`` yields both ``package`` and ``package.name``: ``name`` may be a
    submodule, and a layer must not reach one through its parent either.
    """
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            yield base, node.lineno
            for alias in node.names:
                if alias.name != "*":
                    yield f"{base}.{alias.name}", node.lineno


def violations(folder: str, allowed_nmfsep, forbidden_outside):
    """``file:line imports module`` for each import of ``nmfsep`` outside ``allowed_nmfsep`` or
    of a top-level package in ``forbidden_outside``."""
    found = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for name, line in imported_modules(path):
            top = name.split(".")[0]
            outside_layer = top == "nmfsep" and name != "nmfsep" and not any(
                name == layer or name.startswith(layer + ".") for layer in allowed_nmfsep)
            if outside_layer or top in forbidden_outside:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    return found


def test_the_reader_resolves_relative_imports():
    # the walker's own answer on a file whose imports are known (a wrong resolution would let
    # `from .._pipeline import io` through)
    assert module_name(PACKAGE / "_core" / "nmf.py") == "nmfsep._core.nmf"
    assert module_name(PACKAGE / "_core" / "__init__.py") == "nmfsep._core"
    names = {name for name, _ in imported_modules(PACKAGE / "_core" / "online.py")}
    assert {"nmfsep._core._fitting", "nmfsep._core.fastpaths", "torch"} <= names
    names = {name for name, _ in imported_modules(PACKAGE / "_pipeline" / "_models.py")}
    assert "nmfsep._core._validation" in names


def test_core_imports_no_audio_and_no_upper_layer():
    # `import nmfsep` and the core must work without torchaudio / soundfile (DEVELOPERS.md)
    assert violations("_core", allowed_nmfsep=("nmfsep._core", *BASE),
                      forbidden_outside=("torchaudio", "soundfile", "librosa")) == []


def test_pipeline_imports_only_the_core_and_itself():
    assert violations("_pipeline", allowed_nmfsep=("nmfsep._core", "nmfsep._pipeline", *BASE),
                      forbidden_outside=()) == []


def test_the_base_of_every_layer_imports_nothing():
    # every layer and the command line (which starts without torch) import it
    for name in BASE:
        path = PACKAGE.parent.joinpath(*name.split(".")).with_suffix(".py")
        assert list(imported_modules(path)) == [], name


def test_a_violation_is_reported(tmp_path, monkeypatch):
    # the contract can fail: a core module that imports the pipeline lazily is named with its line
    core = tmp_path / "nmfsep" / "_core"
    core.mkdir(parents=True)
    (tmp_path / "nmfsep" / "__init__.py").write_text("")
    (core / "__init__.py").write_text("from . import models\n")
    (core / "models.py").write_text("import torch\n\ndef f():\n    from .._pipeline import io\n"
                                    "    import soundfile\n")
    monkeypatch.setitem(globals(), "PACKAGE", tmp_path / "nmfsep")
    assert violations("_core", ("nmfsep._core",), ("soundfile",)) == [
        "nmfsep/_core/models.py:4 imports nmfsep._pipeline",
        "nmfsep/_core/models.py:4 imports nmfsep._pipeline.io",
        "nmfsep/_core/models.py:5 imports soundfile",
    ]
