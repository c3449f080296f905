"""The public surface (issue 17): names that IDEs and type checkers can see without running
the package, one base class for the package's errors, one list of audio file suffixes."""

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The recipe modules whose every public name nmfsep.recipes carries (of drums and transcription
# it carries a chosen few).
RECIPE_MODULES = ("harmonic", "supervised", "piano_roll", "drum_stream", "learning")


def _static_all(path: Path) -> list:
    """The literal ``__all__`` of a source file; fails if it is missing, computed or changed."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assigned = [node for node in ast.walk(tree)
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
                and any(isinstance(t, ast.Name) and t.id == "__all__"
                        for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))]
    assert len(assigned) == 1 and isinstance(assigned[0], ast.Assign), \
        f"{path.name}: __all__ must be assigned once, as a literal list"
    mutated = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and isinstance(node.value, ast.Name) and node.value.id == "__all__"]
    assert not mutated, f"{path.name}: __all__ is changed after its assignment"
    assert "globals" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return ast.literal_eval(assigned[0].value)


def test_recipes_all_is_static_and_every_name_resolves():
    import nmfsep.recipes as recipes

    names = _static_all(ROOT / "nmfsep" / "recipes.py")
    assert names == recipes.__all__
    assert len(names) == len(set(names)) == 50
    for name in names:
        assert getattr(recipes, name) is not None, name
    # the names an import-time loop added before __all__ was static
    for module in RECIPE_MODULES:
        public = importlib.import_module(f"nmfsep.apps.recipes.{module}").__all__
        assert set(public) <= set(names), (module, set(public) - set(names))
        for name in public:
            assert getattr(recipes, name) is getattr(
                importlib.import_module(f"nmfsep.apps.recipes.{module}"), name), name
    for name in ("RECIPES", "run_recipe", "save_onsets", "GM_DRUM_NOTES"):
        assert name in names
    assert {"drums", "drums-generic", "drums-harmonic", "piano-bass"} <= set(recipes.RECIPES)


def test_star_import_of_recipes_gives_the_listed_names():
    namespace: dict = {}
    exec("from nmfsep.recipes import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(_static_all(ROOT / "nmfsep" / "recipes.py"))
