"""Separation recipes: tuned, end-to-end methods that a user runs by name.

A recipe is a function ``(mixture, sample_rate, *, templates, hits, seed, device, verbose,
**settings) -> {source: waveform}`` and its tuned settings, registered under a name in
:data:`RECIPES` (:func:`register_recipe`). The settings live there and nowhere else:
:attr:`Recipe.settings` is what ``nmfsep separate --recipe NAME`` (:func:`run_recipe`),
``nmfsep transcribe`` (the ``"drum-onsets"`` recipe), the scripts of ``recipes/<name>/`` and
``benchmarks/separation.py`` run with; each of them takes overrides that
:meth:`Recipe.resolve` checks against it.

Each recipe module registers its own recipes when imported; this package imports them all
at its end, so adding a recipe is adding a module that calls :func:`register_recipe` and
importing it there.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

from ..._errors import ParameterError, ParameterTypeError

__all__ = ["Recipe", "RECIPES", "RUN_OPTIONS", "RECIPE_OUTPUTS", "register_recipe", "get_recipe",
           "run_recipe", "recipe_table", "settings_of"]

PathLike = Union[str, "os.PathLike[str]"]

#: Keyword arguments of every recipe function that belong to one run, not to the recipe:
#: the material it is given and where it computes. Everything else it takes is a setting.
RUN_OPTIONS = ("templates", "hits", "seed", "device", "verbose")

#: What a recipe returns: ``"stems"`` (``{source: waveform}``, :func:`run_recipe`),
#: ``"onsets"`` (``{instrument: onset seconds}``, ``nmfsep transcribe``) or ``"roll"``
#: (``(pitch activations, frame times)``).
RECIPE_OUTPUTS = ("stems", "onsets", "roll")

# keywords that choose what a function returns: never settings of a recipe
_RETURN_SWITCHES = ("return_model", "return_stems", "stems")


def settings_of(*functions: Callable, **values) -> Mapping[str, Any]:
    """The settings of a recipe that runs ``functions``: their keyword defaults, some replaced.

    Every keyword-only parameter with a default is a setting, except :data:`RUN_OPTIONS`
    and the switches that choose what a function returns (``return_model``, ...); a
    parameter of several functions takes the first one's default.

    Parameters
    ----------
    *functions : callable
        The functions the recipe calls with its settings (e.g. ``drum_onsets`` and the
        ``separate_drums`` it passes its other keywords to).
    **values
        Settings in which the recipe differs from the functions' defaults.

    Returns
    -------
    mapping of str to object
        Read-only, sorted by name.

    Raises
    ------
    ValueError
        If a name in ``values`` is no setting of the functions.

    Examples
    --------
    >>> def fit(x, *, n_iter=40, beta=1.0, verbose=False):
    ...     return x
    >>> dict(settings_of(fit, n_iter=20))
    {'beta': 1.0, 'n_iter': 20}
    """
    defaults: Dict[str, Any] = {}
    for function in functions:
        for name, parameter in inspect.signature(function).parameters.items():
            if (parameter.kind is parameter.KEYWORD_ONLY and parameter.default is not parameter.empty
                    and name not in RUN_OPTIONS + _RETURN_SWITCHES):
                defaults.setdefault(name, parameter.default)
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ParameterError(f"{', '.join(unknown)}: no setting of "
                         f"{', '.join(f.__name__ for f in functions)}; its settings: "
                         f"{', '.join(sorted(defaults))}.")
    return MappingProxyType(dict(sorted({**defaults, **values}.items())))


@dataclass(frozen=True)
class Recipe:
    """A registered separation recipe.

    Attributes
    ----------
    name : str
        The name users pass (``nmfsep separate --recipe NAME``), also the name of its folder
        ``recipes/NAME/`` (script and measured results).
    function : callable
        ``function(mixture, sample_rate, *, templates=None, hits=None, seed=None,
        device=None, verbose=False, **settings)``: ``mixture`` is a ``(channels, samples)``
        tensor; a ``"stems"`` recipe returns ``{source: (channels, samples) tensor}`` of the
        mixture's length.
    sources : tuple of str or None
        The stems it returns, when known in advance (used to refuse to overwrite before
        any work).
    description : str
        One line for listings.
    uses_hits, uses_templates : bool
        Whether the recipe accepts ``hits`` (isolated recordings of the sources) and
        ``templates`` (a templates file or :class:`~nmfsep.separation.Templates`).
    requires_templates : bool
        Whether it cannot run without ``templates``.
    fallback : str
        What it uses when given neither hits nor templates (e.g. "the generic drum
        templates shipped with nmfsep"); empty when that is not a choice the user makes.
    settings : mapping of str to object
        The recipe's settings (read-only), passed to ``function`` on every call: the one
        place they are defined (see :func:`settings_of`).
    output : str
        What it returns, one of :data:`RECIPE_OUTPUTS`.

    Examples
    --------
    >>> from nmfsep.recipes import get_recipe
    >>> recipe = get_recipe("drums-generic")
    >>> recipe.settings["n_chunk"], recipe.resolve({"n_iter": 20})["n_iter"]
    (20, 20)
    """

    name: str
    function: Callable
    sources: Optional[Tuple[str, ...]]
    description: str
    uses_hits: bool = False
    uses_templates: bool = False
    requires_templates: bool = False
    fallback: str = ""
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    output: str = "stems"

    def resolve(self, overrides: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """The recipe's settings with ``overrides`` replacing some of them.

        Parameters
        ----------
        overrides : mapping of str to object, optional
            Settings to change, e.g. read from a JSON file or ``--set NAME=VALUE``.

        Returns
        -------
        dict of str to object
            Every setting of the recipe (a new dict).

        Raises
        ------
        ValueError
            If a name is not one of :attr:`settings` (the message lists them).
        TypeError
            If ``overrides`` is not a mapping with string keys.
        """
        if overrides is None:
            return dict(self.settings)
        if not isinstance(overrides, Mapping) or not all(isinstance(k, str) for k in overrides):
            raise ParameterTypeError(f"the settings of a recipe are a mapping of names to values, got "
                            f"{overrides!r}.")
        unknown = sorted(set(overrides) - set(self.settings))
        if unknown:
            run = sorted(set(unknown) & set(RUN_OPTIONS))
            hint = f" ({', '.join(run)}: an argument of the run, not a setting)" if run else ""
            raise ParameterError(f"unknown setting(s) {', '.join(map(repr, unknown))} of the "
                             f"{self.name!r} recipe{hint}; its settings: "
                             f"{', '.join(self.settings) or 'none'}.")
        return {**self.settings, **overrides}

    def __call__(self, mixture, sample_rate: int, *, settings: Optional[Mapping[str, Any]] = None,
                 **options):
        """Run the recipe with its settings, ``settings`` overriding some of them.

        ``options`` are :data:`RUN_OPTIONS` (``hits``, ``templates``, ``seed``, ``device``,
        ``verbose``) or settings (``recipe(mixture, sr, n_iter=20)``), all checked by
        :meth:`resolve`.
        """
        run = {k: v for k, v in options.items() if k in RUN_OPTIONS}
        changed = {**(settings or {}), **{k: v for k, v in options.items() if k not in run}}
        return self.function(mixture, sample_rate, **run, **self.resolve(changed))


#: Registered recipes by name (fill it with :func:`register_recipe`).
RECIPES: Dict[str, Recipe] = {}


def register_recipe(
    name: str,
    function: Callable,
    *,
    sources: Optional[Tuple[str, ...]] = None,
    description: str = "",
    uses_hits: bool = False,
    uses_templates: bool = False,
    requires_templates: bool = False,
    fallback: str = "",
    settings: Optional[Mapping[str, Any]] = None,
    output: str = "stems",
    replace: bool = False,
) -> Recipe:
    """Add a recipe to :data:`RECIPES`.

    Parameters
    ----------
    name : str
        Lower-case name of letters, digits and ``-`` (e.g. ``"drums-generic"``).
    function : callable
        See :class:`Recipe`.
    sources : tuple of str, optional
        The stems it returns, when fixed.
    description : str
        One line for listings.
    uses_hits, uses_templates : bool
        Whether it accepts ``hits`` / ``templates``; :func:`run_recipe` refuses them otherwise.
    requires_templates : bool
        Whether ``templates`` must be given (implies ``uses_templates``).
    fallback : str
        What it uses without hits or templates; said when it runs so (see :class:`Recipe`).
    settings : mapping of str to object, optional
        The recipe's settings, passed to ``function`` as keyword arguments on every call:
        usually :func:`settings_of` the functions it runs. Default: none.
    output : str, default "stems"
        What ``function`` returns, one of :data:`RECIPE_OUTPUTS`; only ``"stems"`` recipes
        run through :func:`run_recipe`.
    replace : bool, default False
        Replace a recipe of the same name (otherwise that is an error).

    Returns
    -------
    Recipe

    Raises
    ------
    ValueError
        On a malformed or already registered name, or an unknown ``output``.
    TypeError
        If ``function`` is not callable or ``settings`` not a mapping with string keys.

    Examples
    --------
    >>> from nmfsep.recipes import RECIPES, register_recipe
    >>> def passthrough(mixture, sample_rate, **options):
    ...     return {"all": mixture}
    >>> recipe = register_recipe("passthrough-example", passthrough, sources=("all",))
    >>> RECIPES["passthrough-example"].sources
    ('all',)
    >>> del RECIPES["passthrough-example"]
    """
    if not isinstance(name, str) or not name or not all(c.islower() or c.isdigit() or c == "-"
                                                        for c in name):
        raise ParameterError(f"a recipe name is lower-case letters, digits and '-', got {name!r}.")
    if not callable(function):
        raise ParameterTypeError(f"function must be callable, got {type(function).__name__}.")
    if name in RECIPES and not replace:
        raise ParameterError(f"a recipe named {name!r} is already registered; pass replace=True.")
    if output not in RECIPE_OUTPUTS:
        raise ParameterError(f"output must be one of {RECIPE_OUTPUTS}, got {output!r}.")
    settings = {} if settings is None else settings
    if not isinstance(settings, Mapping) or not all(isinstance(k, str) for k in settings):
        raise ParameterTypeError(f"settings must be a mapping of names to values, got {settings!r}.")
    recipe = Recipe(name, function, None if sources is None else tuple(sources), str(description),
                    bool(uses_hits), bool(uses_templates) or bool(requires_templates),
                    bool(requires_templates), str(fallback), MappingProxyType(dict(settings)),
                    output)
    RECIPES[name] = recipe
    return recipe


def get_recipe(name: str) -> Recipe:
    """The recipe registered as ``name``.

    Raises
    ------
    ValueError
        If no recipe has that name (the message lists the known ones).

    Examples
    --------
    >>> from nmfsep.recipes import get_recipe
    >>> get_recipe("drums").sources
    ('kick', 'snare', 'hihat')
    """
    if not isinstance(name, str):
        raise ParameterTypeError(f"a recipe name is a string, got {type(name).__name__}.")
    try:
        return RECIPES[name]
    except KeyError:
        known = ", ".join(sorted(RECIPES)) or "none"
        raise ParameterError(f"unknown recipe {name!r}; known recipes: {known}.") from None


def recipe_table() -> str:
    """The registered recipes as a text table: what each separates and what it needs.

    Shown by ``nmfsep recipes`` and ``nmfsep separate --help``. Every recipe takes mono or
    multichannel mixtures and returns stems with the mixture's channels.

    Examples
    --------
    >>> from nmfsep.recipes import recipe_table
    >>> print(recipe_table())  # doctest: +ELLIPSIS
    drum-onsets  ->  the onsets of each instrument (not for 'nmfsep separate')
    ...
    drums  ->  kick, snare, hihat
      needs: --hits optional, --templates optional; without them: the generic drum...
    """
    import textwrap  # noqa: PLC0415

    def needs(recipe: Recipe) -> str:
        options = [f"--{what} {'required' if required else 'optional'}"
                   for what, used, required in (
                       ("hits", recipe.uses_hits, False),
                       ("templates", recipe.uses_templates, recipe.requires_templates))
                   if used]
        text = ", ".join(options) or "nothing but the mixture"
        if recipe.fallback and not recipe.requires_templates:
            text += f"; without them: {recipe.fallback}"
        return text

    def gives(recipe: Recipe) -> str:
        if recipe.output == "stems":
            return ", ".join(recipe.sources) if recipe.sources else "one per templates source"
        return {"onsets": "the onsets of each instrument", "roll": "a piano roll (MIDI pitch x "
                "frame)"}[recipe.output] + " (not for 'nmfsep separate')"

    lines = []
    for recipe in sorted(RECIPES.values(), key=lambda r: r.name):
        lines.append(f"{recipe.name}  ->  {gives(recipe)}")
        for text in (f"needs: {needs(recipe)}", recipe.description):
            if text:
                lines.extend(textwrap.wrap(text, width=86, initial_indent="  ",
                                           subsequent_indent="    "))
    lines.append("Every recipe takes mono or multichannel (stereo) mixtures at any sample "
                 "rate;\nthe stems keep the mixture's channels.")
    return "\n".join(lines)


def _hits_summary(hits) -> str:
    if hits is None:
        return ""
    if isinstance(hits, Mapping):
        return f" with hits of {sorted(hits)}"
    return f" with {len(hits)} hit file(s)" if isinstance(hits, (list, tuple)) else " with hits"


def run_recipe(
    name: str,
    mixture_path: PathLike,
    out_dir: PathLike,
    *,
    templates=None,
    hits=None,
    overwrite: bool = False,
    fmt: str = "wav",
    seed: Optional[int] = None,
    device=None,
    verbose: bool = True,
    allow_truncated: bool = False,
    settings: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Path]:
    """Separate an audio file with a recipe and write one file per source.

    Parameters
    ----------
    name : str
        A key of :data:`RECIPES` (e.g. ``"drums"``, ``"drums-generic"``).
    mixture_path : str or PathLike
        The mixture (any format :func:`nmfsep.io.load` reads), separated at its own
        sample rate.
    out_dir : str or PathLike
        Folder of the stems, written as ``<out_dir>/<source>.<fmt>`` (created if missing).
    templates : str, PathLike or Templates, optional
        Templates for recipes that take them.
    hits : mapping or sequence of paths, optional
        Isolated recordings of the sources for recipes that take them (for the drum
        recipes: files named by instrument, e.g. ``kick_0.wav``, or a folder of them).
    overwrite : bool, default False
        Replace existing stems; otherwise an existing target is an error, raised before
        any work.
    fmt : str, default "wav"
        Output format by extension (``"wav"``: 32-bit float, ``"flac"``: 16-bit).
    seed : int, optional
        Seed for recipes with random initialisations (deterministic ones ignore it).
    device : str or torch.device, optional
        Where to compute.
    verbose : bool, default True
        Progress bars, a note of what the recipe uses when given neither hits nor
        templates, and a one-line summary with the time taken.
    allow_truncated : bool, default False
        Separate a mixture file that holds fewer samples than its header promises (see
        :func:`nmfsep.io.load`); otherwise that is an error.
    settings : mapping of str to object, optional
        Settings of the recipe to change (``nmfsep separate --set NAME=VALUE``); the others
        are :attr:`Recipe.settings`.

    Returns
    -------
    dict of str to Path
        The file written for every source. The stems appear all together or not at all
        (see :func:`nmfsep.separation.write_stems`).

    Raises
    ------
    ValueError
        On an unknown recipe or one that returns no stems, an unknown setting, hits or
        templates the recipe does not take, a bad format, or a corrupt or truncated mixture
        file.
    FileNotFoundError, IsADirectoryError, PermissionError
        If the mixture does not exist, is a folder or may not be read; PermissionError also
        if ``out_dir`` cannot be written (all checked before any work).
    FileExistsError
        If a stem exists and ``overwrite`` is False.

    Examples
    --------
    >>> from nmfsep.recipes import run_recipe
    >>> paths = run_recipe("drums-generic", "audio_examples/drums_mix.wav",
    ...                    "separated/drums_mix")  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['hihat', 'kick', 'snare']
    """
    from nmfsep._pipeline._files import check_readable_file, check_writable_folder  # noqa: PLC0415
    from nmfsep.io import load  # noqa: PLC0415 - keeps the registry importable on its own
    from nmfsep.separation import write_stems  # noqa: PLC0415

    recipe = get_recipe(name)
    if recipe.output != "stems":
        raise ParameterError(f"the {name!r} recipe returns {recipe.output}, not stems; recipes that "
                         f"separate: {sorted(r for r in RECIPES if RECIPES[r].output == 'stems')}.")
    settings = recipe.resolve(settings)  # before any work
    if hits is not None and not recipe.uses_hits:
        raise ParameterError(f"the {name!r} recipe takes no hits; "
                         f"recipes that do: {sorted(r for r in RECIPES if RECIPES[r].uses_hits)}.")
    if templates is not None and not recipe.uses_templates:
        raise ParameterError(f"the {name!r} recipe takes no templates; recipes that do: "
                         f"{sorted(r for r in RECIPES if RECIPES[r].uses_templates)}.")
    if not isinstance(fmt, str) or not fmt.strip(".").isalnum():
        raise ParameterError(f"fmt must be an audio file extension such as 'wav' or 'flac', got {fmt!r}.")
    fmt = fmt.strip(".").lower()
    mixture_path = check_readable_file(mixture_path, "mixture")
    out_dir = check_writable_folder(out_dir, "out_dir")
    if recipe.sources is not None and not overwrite:
        existing = [out_dir / f"{s}.{fmt}" for s in recipe.sources if (out_dir / f"{s}.{fmt}").exists()]
        if existing:
            raise FileExistsError(f"'{existing[0]}' already exists; pass overwrite=True "
                                  f"(--overwrite) to replace it.")
    start = time.perf_counter()
    mixture, sample_rate = load(mixture_path, allow_truncated=allow_truncated)
    if verbose and hits is None and templates is None and recipe.fallback:
        print(f"{name}: no hits or templates given: using {recipe.fallback}", file=sys.stderr)
    stems = recipe(mixture, sample_rate, settings=settings, templates=templates, hits=hits,
                   seed=seed, device=device, verbose=verbose)
    written = write_stems(stems, out_dir, sample_rate, overwrite=overwrite, extension=fmt)
    if verbose:
        print(f"{name}: {mixture_path.name}{_hits_summary(hits)} -> {len(written)} stems in "
              f"'{out_dir}' ({time.perf_counter() - start:.1f} s)")
    return written


# Recipe modules register their recipes on import; imported last, as they use the registry above.
from . import drums, harmonic, piano_roll, supervised, transcription  # noqa: E402, F401
