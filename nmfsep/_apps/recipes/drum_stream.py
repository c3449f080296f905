r"""Real-time drum separation and triggers: the ``drums`` recipe's templates in a stream.

:func:`drum_stream` builds a :class:`~nmfsep.separation.StreamingSeparator` from the same
templates as :func:`~nmfsep.recipes.separate_drums` (the kit's isolated hits, a
templates file, or else the generic templates shipped with nmfsep), with a window short
enough for a look-ahead of at most :data:`~nmfsep.separation.MAX_LOOKAHEAD_SECONDS`
(:func:`streaming_n_fft`). ``nmfsep stream`` runs it on a file or on the sound card.
"""

from __future__ import annotations

import math
import os
from typing import Union

from nmfsep.io import check_sample_rate
from nmfsep.separation import StreamingSeparator, Templates

from ._kit import HitsLike, drum_templates, templates_at_rate

__all__ = ["drum_stream", "streaming_n_fft"]


def streaming_n_fft(sample_rate: int) -> int:
    """The STFT size of :func:`drum_stream` at ``sample_rate``: the largest power of two
    whose look-ahead (``n_fft - 1`` samples) is at most 50 ms.

    Examples
    --------
    >>> [streaming_n_fft(rate) for rate in (8000, 16000, 22050, 44100, 48000, 96000)]
    [256, 512, 1024, 2048, 2048, 4096]
    """
    from nmfsep._pipeline.streaming import MAX_LOOKAHEAD_SECONDS  # noqa: PLC0415

    sample_rate = check_sample_rate(sample_rate)
    return 2 ** int(math.log2(MAX_LOOKAHEAD_SECONDS * sample_rate + 1))


def drum_stream(
    sample_rate: int,
    *,
    hits: HitsLike = None,
    templates: Union[Templates, str, os.PathLike, None] = None,
    T: int = 16,
    **streaming_options,
) -> StreamingSeparator:
    r"""A streaming drum separator (kick, snare, hi-hat) with the ``drums`` recipe's templates.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz of the stream.
    hits : mapping, sequence of paths, or a folder, optional
        The kit's isolated hits (see :func:`~nmfsep.recipes.hit_templates`); their
        templates are computed with :func:`streaming_n_fft` and a hop of a quarter of it.
    templates : Templates or path, optional
        NMFD templates (``nmfsep learn-templates``); at another sample rate they are mapped
        onto a :func:`streaming_n_fft` STFT. With neither, the generic drum templates.
    T : int, default 16
        Frames per hit template (with ``hits``).
    **streaming_options
        Passed to :class:`~nmfsep.separation.StreamingSeparator` (``nmfd``, ``n_iter``,
        ``trigger_threshold``, ...).

    Returns
    -------
    StreamingSeparator

    Examples
    --------
    >>> separator = drum_stream(44100)                    # the generic templates
    >>> separator.sources, separator.n_fft, round(separator.lookahead_seconds * 1000, 1)
    (('kick', 'snare', 'hihat'), 2048, 46.4)
    """
    sample_rate = check_sample_rate(sample_rate)
    n_fft = streaming_n_fft(sample_rate)
    chosen = drum_templates(hits, templates, sample_rate, n_fft=n_fft, hop_length=n_fft // 4,
                            T=T)
    if chosen.sample_rate == sample_rate:  # the templates' own STFT (hits: the one above)
        W, n_fft, hop_length, window = templates_at_rate(chosen, sample_rate, None, None)
    else:
        W, n_fft, hop_length, window = templates_at_rate(chosen, sample_rate, n_fft,
                                                         n_fft // 4)
    streamed = Templates(W, chosen.sources, chosen.components, sample_rate, "stft",
                         dict(n_fft=n_fft, hop_length=hop_length, window=window))
    return StreamingSeparator(streamed, **streaming_options)
