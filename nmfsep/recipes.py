"""Separation recipes by name (face of :mod:`nmfsep.apps.recipes`).

:data:`RECIPES` maps names to recipes; :func:`run_recipe` separates an audio file with one
(``nmfsep separate --recipe NAME``). The drum recipes: ``"drums"`` (NMFD templates from the
kit's isolated hits) and ``"drums-generic"`` (generic templates shipped with nmfsep); their
tensor-level functions are :func:`separate_drums` and :func:`drum_onsets`.
"""

import importlib as _importlib

from .apps.onsets_io import GM_DRUM_NOTES, read_drum_midi, save_onsets, write_drum_midi
from .apps.recipes import RECIPES, Recipe, get_recipe, recipe_table, register_recipe, run_recipe
from .apps.recipes.drums import (
    DRUM_SOURCES,
    FIT_BANDWIDTH,
    DrumModel,
    generic_templates,
    group_hits,
    hit_templates,
    separate_drums,
    source_of_hit,
)
from .apps.recipes.transcription import (
    ACCOMPANIMENT_COMPONENTS,
    ANALYSIS_RATE,
    KIT_THRESHOLD,
    ONSET_FIT,
    ONSET_THRESHOLDS,
    drum_onsets,
    onset_f_measure,
    pick_onsets,
)

__all__ = [
    "RECIPES", "Recipe", "get_recipe", "recipe_table", "register_recipe", "run_recipe",
    "DRUM_SOURCES", "FIT_BANDWIDTH", "DrumModel", "generic_templates", "group_hits",
    "hit_templates", "separate_drums", "source_of_hit",
    "drum_onsets", "onset_f_measure", "pick_onsets", "ONSET_THRESHOLDS", "KIT_THRESHOLD",
    "ONSET_FIT", "ANALYSIS_RATE", "ACCOMPANIMENT_COMPONENTS",
    "save_onsets", "write_drum_midi", "read_drum_midi", "GM_DRUM_NOTES",
]

# The other recipe modules' public names, for those installed (see apps/recipes/__init__).
for _name in ("harmonic", "supervised", "piano_roll", "drum_stream", "learning"):
    try:
        _module = _importlib.import_module(f"{__name__.rsplit('.', 1)[0]}.apps.recipes.{_name}")
    except ModuleNotFoundError as _err:
        if not _err.name.endswith(f"apps.recipes.{_name}"):
            raise
        continue
    for _public in getattr(_module, "__all__", ()):
        if _public not in globals():
            globals()[_public] = getattr(_module, _public)
            __all__.append(_public)
    del _public
del _name, _module
