"""The public surface (issue 17): names that IDEs and type checkers can see without running
the package, one base class for the package's errors, one list of audio file suffixes."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The recipe modules whose every public name nmfsep.recipes carries (of drums it carries a
# chosen few).
RECIPE_MODULES = ("transcription", "harmonic", "supervised", "piano_roll", "drum_stream",
                  "learning")


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
    assert len(names) == len(set(names))  # each name listed once
    for name in names:
        assert getattr(recipes, name) is not None, name
    # the names an import-time loop added before __all__ was static
    for module in RECIPE_MODULES:
        public = importlib.import_module(f"nmfsep._apps.recipes.{module}").__all__
        assert set(public) <= set(names), (module, set(public) - set(names))
        for name in public:
            assert getattr(recipes, name) is getattr(
                importlib.import_module(f"nmfsep._apps.recipes.{module}"), name), name
    for name in ("RECIPES", "run_recipe", "save_onsets", "GM_DRUM_NOTES"):
        assert name in names
    assert {"drums", "drums-generic", "drums-harmonic", "piano-bass"} <= set(recipes.RECIPES)


def test_star_import_of_recipes_gives_the_listed_names():
    namespace: dict = {}
    exec("from nmfsep.recipes import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(_static_all(ROOT / "nmfsep" / "recipes.py"))


# --------------------------------------------------------------------------- audio suffixes
def test_one_list_of_audio_suffixes_read_by_every_folder_listing(tmp_path):
    import soundfile as sf

    from nmfsep._apps import evaluation
    from nmfsep.io import AUDIO_SUFFIXES

    common = {".wav", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".au", ".snd"}
    assert set(AUDIO_SUFFIXES) == common | ({".mp3"} if "MP3" in sf.available_formats() else set())
    for suffix in AUDIO_SUFFIXES:
        (tmp_path / f"source{suffix.replace('.', '_')}{suffix}").touch()
    for other in ("notes.txt", "kit.pt", ".hidden.wav", "song.m4a"):
        (tmp_path / other).touch()
    listed = evaluation._audio_files(tmp_path)
    assert sorted(p.suffix for p in listed.values()) == sorted(AUDIO_SUFFIXES)
    assert not hasattr(evaluation, "AUDIO_EXTENSIONS")  # the evaluation's own list is gone
    # hits and training folders (drums, drums-harmonic, learn-templates); they take hidden files
    from nmfsep._apps.recipes import _shared, drums

    hits = _shared.audio_files_in(tmp_path)
    assert sorted(p.name for p in hits) == sorted([*(p.name for p in listed.values()), ".hidden.wav"])
    assert not hasattr(drums, "_AUDIO_SUFFIXES")


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".aif", ".aiff", ".aifc", ".au", ".snd"])
def test_every_listed_suffix_is_written_and_read_back(tmp_path, suffix):
    import soundfile as sf
    import torch

    from nmfsep.io import AUDIO_SUFFIXES, info, load, save

    assert suffix in AUDIO_SUFFIXES
    tone = 0.5 * torch.sin(torch.arange(800) * 0.05).unsqueeze(0)
    path = save(tmp_path / f"tone{suffix}", tone, 8000, subtype="PCM_16" if suffix != ".ogg" else None)
    expected = {".aif": "AIFF", ".aifc": "AIFF", ".snd": "AU"}.get(suffix, suffix[1:].upper())
    assert info(path).format == expected == sf.info(str(path)).format
    loaded, rate = load(path)
    assert rate == 8000 and loaded.shape == (1, 800)
    error = (loaded - tone).pow(2).sum() / tone.pow(2).sum()
    assert error < (1e-2 if suffix == ".ogg" else 1e-7)  # Vorbis is lossy, 16-bit PCM is not


# --------------------------------------------------------------------------- one family of errors
def _exception_classes():
    """``(module, class name)`` of every exception class defined in nmfsep's source."""
    found = []
    for path in sorted((ROOT / "nmfsep").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            bases = [getattr(b, "id", getattr(b, "attr", "")) for b in getattr(node, "bases", [])]
            if isinstance(node, ast.ClassDef) and any(
                    b.endswith(("Error", "Exception")) or b == "NmfsepError" for b in bases):
                found.append((module, node.name))
    return found


def test_every_exception_of_nmfsep_is_an_nmfsep_error_and_keeps_its_builtin_bases():
    import nmfsep

    defined = {name: getattr(importlib.import_module(module), name)
               for module, name in _exception_classes()}
    classes = {name: cls for name, cls in defined.items() if issubclass(cls, Exception)}
    assert set(classes) == {"NmfsepError", "ParameterError", "ParameterTypeError", "NonFiniteError",
                            "ValueAssertionError", "TorchaudioMissingError", "CommandError"}
    for name, cls in classes.items():
        assert issubclass(cls, nmfsep.NmfsepError), name
    builtins = {"NonFiniteError": (FloatingPointError, ValueError),
                "ValueAssertionError": (ValueError, AssertionError),
                "TorchaudioMissingError": (ImportError,), "ParameterError": (ValueError,),
                "ParameterTypeError": (TypeError,)}
    for name, bases in builtins.items():
        assert all(issubclass(classes[name], base) for base in bases), name
    # Ctrl-C's kin, SIGTERM while writing, stops the program: not an error to catch
    assert set(defined) - set(classes) == {"Terminated"}
    assert not issubclass(defined["Terminated"], Exception)


def test_import_nmfsep_gives_the_base_without_torch():
    import subprocess
    import sys

    code = ("import sys, nmfsep, nmfsep.cli; assert nmfsep.NmfsepError.__name__ == 'NmfsepError'; "
            "print(sorted(m for m in ('torch', 'torchaudio', 'soundfile') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_bad_input_is_caught_as_nmfsep_error_and_as_the_builtin():
    import torch

    import nmfsep
    from nmfsep.nmf import NMF

    V = torch.rand(6, 5)
    V[0, 0] = -1.0
    for catch in (nmfsep.NmfsepError, ValueError, AssertionError):  # negative data
        with pytest.raises(catch, match="negative values"):
            NMF(V.shape, 2).fit(V)
    V = torch.rand(10, 12) * 1000  # beta = 30: the loss overflows float32 (a NonFiniteError)
    for catch in (nmfsep.NmfsepError, ValueError, FloatingPointError):
        with pytest.raises(catch, match="the loss became inf"):
            NMF(V.shape, 2, seed=0).fit(V, beta=30, max_iter=5)



def test_argument_checks_raise_the_parameter_errors():
    import torch

    import nmfsep
    from nmfsep.functional import stft
    from nmfsep.nmf import NMF

    V = torch.rand(6, 5)
    with pytest.raises(nmfsep.ParameterError, match="beta"):  # out of range: a ValueError too
        NMF(V.shape, 2).fit(V, beta=float("nan"))
    with pytest.raises(nmfsep.ParameterTypeError):  # wrong type: a TypeError too
        NMF(V.shape, 2).fit(V, max_iter=2.5)
    with pytest.raises(nmfsep.ParameterError, match="n_fft"):
        stft(torch.rand(4000), n_fft=0)


def test_the_package_raises_no_bare_value_or_type_error():
    # one family (nmfsep.ParameterError / ParameterTypeError), read from the source
    found = []
    for path in sorted((ROOT / "nmfsep").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                    and isinstance(node.exc.func, ast.Name) \
                    and node.exc.func.id in ("ValueError", "TypeError"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []

def test_missing_torchaudio_is_an_nmfsep_error_and_an_import_error(monkeypatch):
    import sys

    import nmfsep
    from nmfsep._pipeline import _backend

    monkeypatch.setitem(sys.modules, "torchaudio", None)
    _backend.require_torchaudio.cache_clear()
    try:
        for catch in (nmfsep.NmfsepError, ImportError):
            with pytest.raises(catch, match="constraints.txt"):
                _backend.require_torchaudio()
    finally:
        _backend.require_torchaudio.cache_clear()


# --------------------------------------------------------------------------- one count check
def test_counts_are_checked_by_the_core_a_wrong_type_is_a_type_error():
    # the recipes' and the evaluation's own count checks gave ValueError for both a float count
    # and a count too small; they call the core's check_count, which tells the two apart
    import torch

    from nmfsep.evaluation import bss_eval
    from nmfsep.recipes import harmonic_templates, hpss_masks

    refs = torch.rand(1, 800)
    cases = {  # name: (a call with the value, the smallest value it accepts)
        "n_components": (lambda v: harmonic_templates(v, 12, 4), 1),
        "spread": (lambda v: harmonic_templates(4, 12, 4, spread=v), 0),
        "harmonic_size": (lambda v: hpss_masks(torch.rand(9, 12), harmonic_size=v), 1),
        "filter_length": (lambda v: bss_eval(refs, refs.flip(-1), filter_length=v), 1),
    }
    for name, (call, smallest) in cases.items():
        with pytest.raises(TypeError, match=rf"{name} must be an integer, got 3\.0 \(e\.g\. {name}=3\)"):
            call(3.0)
        with pytest.raises(ValueError, match=rf"{name} must be at least {smallest}, got {smallest - 1}"):
            call(smallest - 1)
        call(smallest)  # accepted


# --------------------------------------------------------------------------- one atomic writer
def test_files_are_moved_into_place_by_one_writer():
    # nmfsep._pipeline._files.write_atomically renames every file written into place; the batch
    # runner renames a whole staging folder (made with _files.temporary_name). No other code
    # renames, moves or makes temporary files: a new writer calls write_atomically.
    moves = {("os", "replace"), ("os", "rename"), ("shutil", "move"), ("tempfile", "mkstemp"),
             ("tempfile", "NamedTemporaryFile"), ("tempfile", "mkdtemp")}
    found = set()
    for path in sorted((ROOT / "nmfsep").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and (node.value.id, node.attr) in moves):
                found.add((path.relative_to(ROOT).as_posix(), f"{node.value.id}.{node.attr}"))
    assert found == {("nmfsep/_pipeline/_files.py", "os.replace"), ("nmfsep/_apps/batch.py", "os.replace")}


# --------------------------------------------------------------------------- one path per name
# The public modules (DEVELOPERS.md); the layer packages behind them are private.
PUBLIC_MODULES = ("nmf", "plca", "metrics", "trainer", "fitting", "updates", "init", "io",
                  "functional", "transforms", "masks", "separation", "recipes", "evaluation",
                  "plot", "cli")


def test_every_public_module_has_a_literal_all_that_resolves():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(f"nmfsep.{name}")
        names = _static_all(ROOT / "nmfsep" / f"{name}.py")
        assert names == module.__all__, name
        assert len(names) == len(set(names)), name
        for public in names:
            assert hasattr(module, public), (name, public)


def test_each_public_class_and_function_has_one_public_path():
    import nmfsep

    paths: dict = {}
    for module_name in ("", *PUBLIC_MODULES):
        module = importlib.import_module("nmfsep" + (f".{module_name}" if module_name else ""))
        for public in module.__all__:
            value = getattr(module, public)
            if callable(value):  # classes and functions (constants may be equal by chance)
                paths.setdefault(id(value), []).append(f"{module.__name__}.{public}")
    twice = [found for found in paths.values() if len(found) > 1]
    assert twice == []
    # the layers are private: no public module is re-exported as a submodule of the root
    assert not [n for n in nmfsep.__all__ if n.startswith("_") and n != "__version__"]
    for layer in ("core", "pipeline", "apps"):
        with pytest.raises(ImportError):
            importlib.import_module(f"nmfsep.{layer}")



# --------------------------------------------------------------------------- recipes apart
RECIPES_DIR = ROOT / "nmfsep" / "_apps" / "recipes"
# The private modules that recipes share; what two recipes need lives in them.
SHARED_RECIPE_MODULES = {"_shared", "_kit"}


def _private_names_from_other_recipes(source: str, module: str) -> list:
    """``(line, "module.name")`` of every underscore name that the recipe module ``module``
    (a source file of ``nmfsep/_apps/recipes/``) imports from another recipe module, or reads
    as an attribute of one it imported; the shared private modules excepted."""
    package = "nmfsep._apps.recipes"

    def recipe_of(dotted: str):
        if dotted == package:
            return "__init__"
        if dotted.startswith(package + "."):
            return dotted[len(package) + 1:].split(".")[0]
        return None

    found, aliases = [], {}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative to nmfsep/_apps/recipes/<module>.py
                base = package if node.level == 1 else None
                dotted = base and (f"{base}.{node.module}" if node.module else base)
            else:
                dotted = node.module
            other = recipe_of(dotted or "")
            if other is None:
                continue
            for alias in node.names:
                if other == "__init__" and (RECIPES_DIR / f"{alias.name}.py").exists():
                    aliases[alias.asname or alias.name] = alias.name  # from . import drums
                elif alias.name.startswith("_") and other not in SHARED_RECIPE_MODULES \
                        and other != module:
                    found.append((node.lineno, f"{other}.{alias.name}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                other = recipe_of(alias.name)
                if other not in (None, "__init__") and alias.asname:
                    aliases[alias.asname] = other
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in aliases and node.attr.startswith("_") \
                and not node.attr.startswith("__") \
                and aliases[node.value.id] not in SHARED_RECIPE_MODULES:
            found.append((node.lineno, f"{aliases[node.value.id]}.{node.attr}"))
    return sorted(found)


def test_the_import_check_finds_a_private_name_of_another_recipe():
    planted = ("from .drums import DRUM_SOURCES, _fit\n"
               "from nmfsep._apps.recipes.harmonic import _hpss\n"
               "from ._shared import _WINDOW_SECONDS\n"
               "from ._kit import _stft_sizes\n"
               "from . import drums\n"
               "import nmfsep._apps.recipes.supervised as sup\n"
               "x = drums._start, drums.separate_drums, sup._helper, drums.__name__\n")
    assert _private_names_from_other_recipes(planted, "transcription") == [
        (1, "drums._fit"), (2, "harmonic._hpss"), (7, "drums._start"), (7, "supervised._helper")]


def test_no_recipe_module_imports_private_names_of_another():
    modules = sorted(p for p in RECIPES_DIR.glob("*.py"))
    assert {"drums", "transcription", "drum_stream", "_kit", "_shared"} <= {p.stem for p in modules}
    found = {p.name: _private_names_from_other_recipes(p.read_text(encoding="utf-8"), p.stem)
             for p in modules}
    assert {name: names for name, names in found.items() if names} == {}
