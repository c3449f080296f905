"""``nmfsep learn-templates``: the templates a recipe separates with, from recordings of each
source alone.

What a recipe needs decides what is learned, by the same functions the API offers:

* the drum recipes (``drums``, ``drums-generic``, ``drums-harmonic``; also ``nmfsep
  transcribe`` and ``nmfsep stream``) take NMFD hit templates, one per isolated hit
  (:func:`~nmfsep.recipes.hit_templates`);
* ``piano-bass`` (supervised separation of any instruments) takes exemplar dictionaries, the
  training frames of every instrument (:func:`~nmfsep.recipes.learn_instrument_dictionaries`).

Files are grouped into sources by :func:`group_recordings`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import torch

from nmfsep._apps.recipes import get_recipe
from nmfsep._apps.recipes._shared import audio_files_in
from nmfsep._apps.recipes.drums import DRUM_SOURCES, hit_templates, source_of_hit
from nmfsep._apps.recipes.supervised import learn_instrument_dictionaries

from ..._errors import ParameterError

__all__ = ["learn_templates_cli", "group_recordings", "source_of_file", "DICTIONARY_RECIPES"]

PathLike = Union[str, "os.PathLike[str]"]

#: Recipes that separate with exemplar dictionaries; every other recipe that takes
#: templates takes NMFD hit templates.
DICTIONARY_RECIPES = ("piano-bass",)

# The leading run of a file name without digits or separators: "piano_C4" -> "piano".
_NAME_PREFIX = re.compile(r"[^\d_\-. ]+")


def source_of_file(path: PathLike) -> Optional[str]:
    """The source a file's name stands for, or None when it names none.

    A drum hit's instrument when the name says one (:func:`~nmfsep.recipes.source_of_hit`:
    ``hh_closed_1.wav`` -> ``hihat``), else the name up to its first digit, ``_``, ``-``,
    ``.`` or space, in lower case.

    Examples
    --------
    >>> source_of_file("notes/Piano_C4.wav"), source_of_file("bass.flac"), source_of_file("bd-1.wav")
    ('piano', 'bass', 'kick')
    >>> source_of_file("01.wav") is None
    True
    """
    drum = source_of_hit(path)
    if drum is not None:
        return drum
    match = _NAME_PREFIX.match(Path(os.fspath(path)).stem)
    return match.group(0).lower() if match else None


def group_recordings(paths: Sequence[PathLike],
                     sources: Optional[Sequence[str]] = None) -> Dict[str, List[Path]]:
    """Audio files grouped by source: ``{source: [file, ...]}``.

    Parameters
    ----------
    paths : sequence of paths
        Audio files and folders; a folder stands for the audio files inside it (sorted by
        name, not its sub-folders).
    sources : sequence of str, optional
        * none: every file is named by :func:`source_of_file` (``kick_0.wav`` -> ``kick``,
          ``piano_C4.wav`` -> ``piano``, ``train/bass.wav`` -> ``bass``);
        * one name: every file is that source (e.g. a shell glob of one instrument's notes);
        * one name per path, in order: the files of that path (a file, or all the files of a
          folder: a folder per source) are that source; a name may repeat.

    Returns
    -------
    dict of str to list of Path
        Sources in the order they first appear.

    Raises
    ------
    ValueError
        If ``sources`` gives neither one name nor one per path, names are empty, a folder
        holds no audio file, or a file's name names no source.

    Examples
    --------
    >>> group_recordings(["kick_0.wav", "hh_1.wav", "kick_1.wav"])
    {'kick': [PosixPath('kick_0.wav'), PosixPath('kick_1.wav')], 'hihat': [PosixPath('hh_1.wav')]}
    >>> group_recordings(["C4.wav", "E4.wav"], ["piano"])
    {'piano': [PosixPath('C4.wav'), PosixPath('E4.wav')]}
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(os.fspath(p)) for p in paths]
    if not paths:
        raise ParameterError("give at least one audio file (or folder of them) to learn from.")
    if sources is not None:
        sources = [str(s) for s in sources]
        if not sources or not all(s.strip() for s in sources):
            raise ParameterError(f"source names must be non-empty, got {sources}.")
        if len(sources) not in (1, len(paths)):
            raise ParameterError(
                f"--sources gives {len(sources)} names for {len(paths)} FILE arguments: give "
                f"one name for all files, one per FILE argument (a folder counts as one: a "
                f"folder per source), or none to name sources by file name (kick_0.wav -> kick, "
                f"piano_C4.wav -> piano).")
        if len(sources) == 1:
            sources = sources * len(paths)
    grouped: Dict[str, List[Path]] = {}
    for index, path in enumerate(paths):
        files = [path]
        if path.is_dir():
            files = audio_files_in(path)
            if not files:
                raise ParameterError(f"folder '{path}' holds no audio files.")
        for file in files:
            source = sources[index] if sources is not None else source_of_file(file)
            if source is None:
                raise ParameterError(f"'{file.name}' names no source (its name should start with "
                                 f"one, e.g. piano_C4.wav or kick_0.wav); pass --sources.")
            grouped.setdefault(source, []).append(file)
    return grouped


def _template_recipe(recipe: Optional[str], sources: Sequence[str]) -> str:
    """The recipe templates are learned for: ``recipe`` checked, or by default ``drums`` when
    every source is a drum of the drum recipes, else ``piano-bass``."""
    if recipe is None:
        return "drums" if set(sources) <= set(DRUM_SOURCES) else DICTIONARY_RECIPES[0]
    if not get_recipe(recipe).uses_templates:  # unknown names raise with the known ones
        raise ParameterError(f"the {recipe!r} recipe takes no templates; recipes that do: "
                         f"{', '.join(_template_recipes())}.")
    return recipe


def _template_recipes() -> List[str]:
    from nmfsep._apps.recipes import RECIPES  # noqa: PLC0415 - filled as modules register

    return sorted(name for name, r in RECIPES.items() if r.uses_templates)


def learn_templates_cli(
    files: Sequence[PathLike],
    out: PathLike,
    *,
    sources: Optional[Sequence[str]] = None,
    recipe: Optional[str] = None,
    sample_rate: Optional[int] = None,
    overwrite: bool = False,
    seed: Optional[int] = None,
    device: Union[str, torch.device, None] = None,
    verbose: bool = True,
) -> Path:
    """Templates for a recipe, learned from audio files of each source alone and saved for
    ``--templates`` (``nmfsep learn-templates``).

    Parameters
    ----------
    files : sequence of paths
        Audio files and folders of them, grouped into sources by :func:`group_recordings`.
    out : str or PathLike
        Where to save the templates (:meth:`~nmfsep.separation.Templates.save`).
    sources : sequence of str, optional
        Source names: none, one for all files, or one per entry of ``files`` (see
        :func:`group_recordings`).
    recipe : str, optional
        The recipe the templates are for (``nmfsep separate --recipe``): ``piano-bass``
        gets exemplar dictionaries (:func:`~nmfsep.recipes.learn_instrument_dictionaries`,
        its default settings: the same dictionaries as the API's), the drum recipes NMFD
        templates, one per file (:func:`~nmfsep.recipes.hit_templates`). Default:
        ``drums`` when every source is one of :data:`~nmfsep.recipes.DRUM_SOURCES`, else
        ``piano-bass``.
    sample_rate : int, optional
        Rate in Hz of the templates; it must be the mixtures' rate for ``piano-bass`` (the
        drum recipes adapt templates to any rate). Default: the first file's rate; other
        files are resampled to it.
    overwrite : bool, default False
        Replace an existing ``out``.
    seed, device
        Accepted for the command line's uniformity; both kinds of templates are computed
        deterministically on the CPU.
    verbose : bool, default True
        Print what was learned.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValueError
        On source names that do not fit the files, a recipe that takes no templates, or
        unreadable, silent or too short audio.
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> from nmfsep.recipes import learn_templates_cli
    >>> learn_templates_cli(["audio_examples/piano_bass_train"], "piano_bass.pt")  # doctest: +SKIP
    learned exemplar dictionaries for --recipe piano-bass ... -> 'piano_bass.pt'
    PosixPath('piano_bass.pt')
    """
    from nmfsep.io import info, load  # noqa: PLC0415

    grouped = group_recordings(files, sources)
    recipe = _template_recipe(recipe, list(grouped))
    out = Path(os.fspath(out))
    if out.exists() and not overwrite:  # before any work
        raise FileExistsError(f"'{out}' already exists; pass overwrite=True (--overwrite) to "
                              f"replace it.")
    if sample_rate is None:
        sample_rate = info(next(iter(grouped.values()))[0]).sample_rate
    if recipe in DICTIONARY_RECIPES:
        train = {source: [load(path, sample_rate=sample_rate, mono=True)[0] for path in paths]
                 for source, paths in grouped.items()}
        templates = learn_instrument_dictionaries(train, sample_rate)
        kind = "exemplar dictionaries"
    else:
        templates = hit_templates(grouped, sample_rate, sources=tuple(grouped))
        kind = "NMFD hit templates"
    written = templates.save(out, overwrite=overwrite)
    if verbose:
        counts = ", ".join(f"{source} {len(grouped[source])} file(s) -> {len(components)}"
                           for source, components in templates.source_components.items())
        print(f"learned {kind} for --recipe {recipe} at {templates.sample_rate} Hz ({counts} "
              f"templates) -> '{written}'")
    return written
