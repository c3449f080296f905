"""The source-model protocol: what a :class:`~nmfsep.separation.Separator` asks of a model.

A separator runs one chunk loop for every model: front end -> for each chunk, the model's
:meth:`SourceModel.parts` of the chunk's magnitude spectrogram -> masks -> inverse
transform -> cross-faded stems. What it asks of the model is the protocol
:class:`SourceModel`; a :class:`~nmfsep.separation.Factorisation` with its grouping answers it
(the separator wraps the two), and so do the recipes' models
(:class:`nmfsep.recipes.DrumNMFD`, :class:`nmfsep.recipes.FixedDictionaries`) and any other
object with its two required members, ``sources`` and ``parts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Protocol, Sequence, Tuple

import torch
from torch import Tensor

from .._errors import ParameterTypeError

if TYPE_CHECKING:
    from ._frontend import FrontEnd

__all__ = ["SourceModel", "SourceParts", "check_source_model", "fitted_bins"]

#: What a model must have (the others have defaults, :class:`SourceModel`'s).
_REQUIRED_ATTRIBUTES = ("sources",)
_REQUIRED_METHODS = ("parts",)


@dataclass
class SourceParts:
    """One chunk's model of every source, as :meth:`SourceModel.parts` returns it.

    Attributes
    ----------
    parts : Tensor or None, shape (sources, channels or 1, n_fit, frames)
        Non-negative model spectrogram of every source, in the units of
        ``|X| ** power`` (the model's :attr:`SourceModel.power`), per channel or one shared
        by all channels (with ``gains``); ``n_fit`` the bins the model was given. The masks
        are the parts' shares of their sum (:func:`~nmfsep.masks.wiener_mask`). None: the
        chunk is silent to the model, and its stems are silent (unless ``stems`` is given).
    gains : Tensor, shape (sources, channels, 1, 1), optional
        Every source's level in every channel, multiplying parts shared by the channels.
    activations : Tensor, shape (..., frames - lookahead), optional
        The chunk's activations, one per frame of its spectrogram but the look-ahead ones;
        the separator joins the chunks' into
        :attr:`~nmfsep.separation.Separator.activations_`.
    stems : Tensor, shape (sources, channels, samples), optional
        Instead of ``parts`` (which must then be None): the chunk's stems themselves, for a
        model whose last step is no mask of the mixture's spectrogram (e.g. a mask of a
        residual at another resolution); ``samples`` the chunk's, look-ahead excluded.
    """

    parts: Optional[Tensor]
    gains: Optional[Tensor] = None
    activations: Optional[Tensor] = None
    stems: Optional[Tensor] = None


class SourceModel(Protocol):
    r"""What :class:`~nmfsep.separation.Separator` needs of a model of the sources.

    The separator cuts the mixture into chunks (``chunk_duration``) and, for every chunk,
    passes its magnitude spectrogram ``|X|`` to :meth:`parts`; the parts of the sources
    become masks (``mask_power / power``: :math:`\Lambda_s^{q/p} / \sum_k \Lambda_k^{q/p}`
    for parts :math:`\Lambda` of :math:`|X|^p`) applied to the complex spectrogram and
    inverted. Before the chunks, :meth:`prepare` sees the whole mixture once.

    Only ``sources`` and ``parts`` are required; an object that subclasses this class takes
    the defaults below for the rest, and the separator assumes the same defaults for one
    that does not. A :class:`~nmfsep.separation.Factorisation` with its grouping answers the
    protocol (the separator wraps them), so does :class:`nmfsep.recipes.DrumNMFD`.

    Attributes
    ----------
    sources : tuple of str or None
        The source names, in the order of the parts' first axis. Read after every
        :meth:`parts` call: a model that names its sources by clustering knows them after
        its first chunk (None before).
    power : float, default 1.0
        The parts are in the units of ``|X| ** power``.
    lookahead : int, default 0
        Frames after each chunk's end that its spectrogram covers as well (the mixture's
        next frames, silence after its end), for a model whose components last several
        frames (NMFD: ``T - 1``); the stems keep the chunk's samples only.
    fit_bandwidth : float or None, default None
        Only the bins up to this frequency in Hz are passed to :meth:`parts`
        (:func:`fitted_bins`); above them every frame's masks are the mean masks of the
        band's top octave. None: every bin.
    chunk_alignment : int, default 1
        Chunks start on multiples of this many frames (a model that fits every ``k``-th
        frame only: its chunks then fit the frames the whole mixture would).
    context : int or None, default None
        Exact-context chunking, for a model whose every output sample depends on the mixture
        within ``context`` samples on either side only (local filters): consecutive chunks
        then overlap by ``2 * context`` samples plus one alignment step (``chunk_alignment``
        frames; the separator's ``chunk_overlap`` is not used), and the stems are copied
        from the middle of each overlap to the middle of the next without cross-fades: the
        joined stems equal the whole mixture's. Chunks must be at least twice that overlap.
        None: chunks cross-faded over ``chunk_overlap``.
    complex_input : bool, default False
        :meth:`parts` is given the chunk's complex spectrogram (every bin;
        ``fit_bandwidth`` must be None) and the chunk's waveform, ``parts(spectrogram,
        waveform)``, instead of ``|X|``: for a model that re-analyses the chunk (e.g. a
        residual at another resolution, with the front end :meth:`prepare` was given).

    Examples
    --------
    A model of two sources, what lies under 1 kHz and what lies above:

    >>> import torch
    >>> from nmfsep.separation import Separator, SourceModel, SourceParts
    >>> from nmfsep.transforms import STFT
    >>> class LowHigh(SourceModel):
    ...     sources = ("low", "high")
    ...     def parts(self, magnitude):
    ...         low = magnitude.clone()
    ...         low[:, 64:] = 0     # 1 kHz: bin 64 of a 512-point STFT at 8 kHz
    ...         return SourceParts(torch.stack([low, magnitude - low]))
    >>> t = torch.arange(16000) / 8000
    >>> low, high = torch.sin(2 * torch.pi * 220 * t), torch.sin(2 * torch.pi * 2500 * t)
    >>> separator = Separator(front_end=STFT(n_fft=512), model=LowHigh())
    >>> stems = separator.separate(low + high, 8000)
    >>> list(stems), bool((stems["low"] + stems["high"] - low - high).abs().max() < 1e-5)
    (['low', 'high'], True)
    >>> error = (stems["low"][0] - low).pow(2).sum() / low.pow(2).sum()
    >>> bool(error < 1e-4)  # -40 dB: only the edges' frames mix the two
    True
    """

    sources: Optional[Tuple[str, ...]]
    power: float = 1.0
    lookahead: int = 0
    fit_bandwidth: Optional[float] = None
    chunk_alignment: int = 1
    context: Optional[int] = None
    complex_input: bool = False

    def prepare(self, mixture: Tensor, sample_rate: int, front: "FrontEnd",
                bounds: Sequence[Tuple[int, int]]) -> Optional[Sequence[int]]:
        """Get ready for a mixture, before any of its chunks (default: nothing to do).

        Parameters
        ----------
        mixture : Tensor, shape (channels, samples)
            The whole mixture, on the device the separator computes on.
        sample_rate : int
            Its sampling rate in Hz.
        front : FrontEnd
            The separator's front end (its ``analyse`` gives spectrograms of excerpts).
        bounds : sequence of (int, int)
            The chunks ``(start, end)`` in samples; one chunk for a mixture separated in one
            piece.

        Returns
        -------
        sequence of int or None
            The order in which the chunks are to be passed to :meth:`parts` (e.g. the first
            chunk with sound first, to learn templates on it); None: in order.
        """
        return None

    def parts(self, magnitude: Tensor) -> SourceParts:
        """Every source's part of one chunk.

        Parameters
        ----------
        magnitude : Tensor, shape (channels, n_fit, frames)
            The chunk's magnitude spectrogram ``|X|`` over the bins :func:`fitted_bins`
            keeps (all of them without ``fit_bandwidth``), ``lookahead`` frames included.
            With ``complex_input``: the chunk's complex spectrogram ``(channels, freq,
            frames)``, followed by its waveform ``(channels, samples)`` (look-ahead
            included) as a second argument.

        Returns
        -------
        SourceParts
        """
        ...


def check_source_model(model) -> SourceModel:
    """``model`` itself if it answers :class:`SourceModel`, else a ParameterTypeError naming
    what it lacks."""
    missing = [name for name in _REQUIRED_ATTRIBUTES if not hasattr(model, name)]
    missing += [name for name in _REQUIRED_METHODS if not callable(getattr(model, name, None))]
    prepare = getattr(model, "prepare", None)
    if prepare is not None and not callable(prepare):
        missing.append("prepare (a method)")
    if missing:
        raise ParameterTypeError(
            f"model must be a Factorisation, a model name ('nmf', ...) or a source model "
            f"(nmfsep.separation.SourceModel); {type(model).__name__} lacks "
            f"{', '.join(missing)}."
        )
    return model


def fitted_bins(front: "FrontEnd", sample_rate: int, fit_bandwidth: Optional[float]) -> int:
    """Bins of ``front`` whose centre frequency is at most ``fit_bandwidth`` Hz (at least
    one; all of them for None): the bins a model with that ``fit_bandwidth`` is given.

    Examples
    --------
    >>> from nmfsep.separation import fitted_bins
    >>> from nmfsep.transforms import STFT
    >>> fitted_bins(STFT(n_fft=1024), 22050, 5500.0), fitted_bins(STFT(n_fft=1024), 22050, None)
    (256, 513)
    """
    if fit_bandwidth is None:
        return front.n_freqs
    frequencies = front.bin_frequencies(sample_rate)
    # a bin exactly at the bandwidth counts, whatever the rounding of its frequency
    return max(1, int(torch.count_nonzero(frequencies <= fit_bandwidth * (1 + 1e-9))))
