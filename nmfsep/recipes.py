"""Separation recipes by name (face of ``nmfsep/_apps/recipes/``).

:data:`RECIPES` maps names to recipes; :func:`run_recipe` separates an audio file with one
(``nmfsep separate --recipe NAME``). The drum recipes: ``"drums"`` (NMFD templates from the
kit's isolated hits) and ``"drums-generic"`` (generic templates shipped with nmfsep); their
tensor-level functions are :func:`separate_drums` and :func:`drum_onsets`. The other recipe
modules' public names are here too (``from nmfsep.recipes import separate_drums_harmonic``): a
name added to a recipe module's ``__all__`` is added here as well, imported and listed by hand
so that IDEs and type checkers see it (``tests/test_public_surface.py`` checks both).
"""

from ._apps.onsets_io import (
    GM_DRUM_NOTES,
    ONSET_FORMATS,
    read_drum_midi,
    save_onsets,
    write_drum_midi,
)
from ._apps.recipes import (
    RECIPE_OUTPUTS,
    RECIPES,
    RUN_OPTIONS,
    Recipe,
    get_recipe,
    recipe_table,
    register_recipe,
    run_recipe,
    settings_of,
)
from ._apps.recipes.drum_stream import drum_stream, streaming_n_fft
from ._apps.recipes.drums import (
    DRUM_SOURCES,
    FIT_BANDWIDTH,
    DrumModel,
    DrumNMFD,
    generic_templates,
    group_hits,
    hit_templates,
    separate_drums,
    source_of_hit,
)
from ._apps.recipes.harmonic import (
    CONTINUITY,
    HPSSCascade,
    PercussiveHarmonicNMF,
    fit_percussive_harmonic,
    hpss_cascade,
    hpss_masks,
    percussive_dictionary,
    separate_drums_harmonic,
    template_spectra,
)
from ._apps.recipes.learning import (
    DICTIONARY_RECIPES,
    group_recordings,
    learn_templates_cli,
    source_of_file,
)
from ._apps.recipes.piano_roll import (
    ROLL_MODELS,
    PitchActivations,
    binarize_roll,
    frame_scores,
    harmonic_templates,
    midi_to_hz,
    notes_to_roll,
    piano_roll,
)
from ._apps.recipes.supervised import (
    DICTIONARY_METHODS,
    SupervisedNMF,
    default_stft,
    learn_instrument_dictionaries,
    separate_supervised,
)
from ._apps.recipes.transcription import (
    ACCOMPANIMENT_COMPONENTS,
    ANALYSIS_RATE,
    HIHAT_ALONE,
    HIHAT_RISE,
    KIT_THRESHOLD,
    ONSET_FIT,
    ONSET_THRESHOLDS,
    RISE_WINDOW,
    SONG_THRESHOLDS,
    drum_onsets,
    onset_f_measure,
    pick_onsets,
    struck_hihat,
)

__all__ = [
    # the registry (nmfsep.recipes)
    "RECIPES", "Recipe", "get_recipe", "recipe_table", "register_recipe", "run_recipe",
    "settings_of", "RUN_OPTIONS", "RECIPE_OUTPUTS",
    # drums
    "DRUM_SOURCES", "FIT_BANDWIDTH", "DrumModel", "DrumNMFD", "generic_templates", "group_hits",
    "hit_templates", "separate_drums", "source_of_hit",
    # transcription and onset files
    "drum_onsets", "onset_f_measure", "pick_onsets", "ONSET_THRESHOLDS", "SONG_THRESHOLDS",
    "KIT_THRESHOLD",
    "ONSET_FIT", "ANALYSIS_RATE", "ACCOMPANIMENT_COMPONENTS", "struck_hihat", "HIHAT_RISE",
    "HIHAT_ALONE", "RISE_WINDOW",
    "save_onsets", "write_drum_midi", "read_drum_midi", "GM_DRUM_NOTES", "ONSET_FORMATS",
    # harmonic
    "separate_drums_harmonic", "PercussiveHarmonicNMF", "HPSSCascade", "hpss_cascade",
    "percussive_dictionary", "template_spectra", "hpss_masks", "fit_percussive_harmonic", "CONTINUITY",
    # supervised
    "learn_instrument_dictionaries", "separate_supervised", "SupervisedNMF", "default_stft",
    "DICTIONARY_METHODS",
    # piano_roll
    "piano_roll", "PitchActivations", "harmonic_templates", "notes_to_roll", "binarize_roll", "frame_scores",
    "midi_to_hz", "ROLL_MODELS",
    # drum_stream
    "drum_stream", "streaming_n_fft",
    # learning
    "learn_templates_cli", "group_recordings", "source_of_file", "DICTIONARY_RECIPES",
]
