"""Peak memory and time of separating a long recording in chunks.

    python benchmarks/long_audio.py                   # 10 minutes, stereo, 44.1 kHz
    python benchmarks/long_audio.py --minutes 1       # the same per minute, for comparison
    python benchmarks/long_audio.py --chunk-duration 0 --minutes 2   # in one piece

A synthetic drum recording (kick, snare and hi-hat hits at 120 bpm with random velocities,
panned left / centre / right) is generated in memory, NMFD templates are learned from other
synthetic hits (n_fft 2048, hop 512, T 16) and :class:`nmfsep.separation.Separator` separates
the recording in 30 s chunks with 1 s cross-fades. Printed: the time to learn the templates
and to separate, the peak resident memory during the separation above the memory held before
it (the mixture), the size of the separated stems (which the result must hold), the working
memory (peak above mixture and stems: what chunking bounds) and the SI-SDR of every stem.

Only the separation is measured: the peak counter is reset after the mixture is generated.
The working memory should not grow with ``--minutes``; in one piece (``--chunk-duration 0``)
it grows with the length.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nmfsep.separation import Separator, learn_templates

from _timing import machine_summary, peak_rss_bytes, reset_peak_rss, rss_bytes

SR = 44100
MB = 2.0 ** 20
PAN = {"kick": 0.0, "snare": -0.5, "hihat": 0.6}  # -1 left, +1 right


def hit(kind: str, generator: torch.Generator) -> torch.Tensor:
    """One synthetic drum hit, mono, float32."""
    n = int((0.45 if kind != "hihat" else 0.15) * SR)
    t = torch.arange(n, dtype=torch.float64) / SR
    if kind == "kick":  # a sine sweeping down from 150 to 50 Hz
        phase = 2 * math.pi * (50 * t + 100 / 30 * (1 - torch.exp(-30 * t)))
        x = torch.sin(phase) * torch.exp(-8 * t)
    else:
        noise = torch.randn(n, generator=generator, dtype=torch.float64)
        spectrum = torch.fft.rfft(noise)
        f = torch.fft.rfftfreq(n, 1 / SR)
        low, high = (800, 6000) if kind == "snare" else (7000, 16000)
        spectrum[(f < low) | (f > high)] = 0
        noise = torch.fft.irfft(spectrum, n)
        noise /= noise.std()
        if kind == "snare":
            x = (0.6 * noise + torch.sin(2 * math.pi * 190 * t)) * torch.exp(-18 * t)
        else:
            x = 0.5 * noise * torch.exp(-40 * t)
    return x.float()


def drum_recording(minutes: float, seed: int = 0):
    """Stereo mixture ``(2, samples)`` and its stereo stems, 8th-note pattern at 120 bpm."""
    generator = torch.Generator().manual_seed(seed)
    n = int(minutes * 60 * SR)
    eighth = int(0.25 * SR)
    stems = {}
    for kind in ("kick", "snare", "hihat"):
        hits = [hit(kind, generator) for _ in range(4)]
        mono = torch.zeros(n + SR)
        for k, start in enumerate(range(0, n, eighth)):
            beat = k % 8
            if (kind == "kick" and beat in (0, 5)) or (kind == "snare" and beat in (2, 6)) or kind == "hihat":
                velocity = 0.5 + 0.5 * float(torch.rand((), generator=generator))
                h = hits[int(torch.randint(4, (), generator=generator))]
                mono[start:start + h.shape[0]] += velocity * h
        angle = (PAN[kind] + 1) * math.pi / 4  # constant-power panning
        stems[kind] = torch.stack([math.cos(angle) * mono[:n], math.sin(angle) * mono[:n]])
    mixture = sum(stems.values())
    return mixture, stems


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor, block: int = 1 << 20) -> float:
    """SI-SDR in dB of two long ``(samples,)`` signals, accumulated in float64 blocks."""
    n = reference.shape[0]
    mean_e, mean_r = float(estimate.double().mean()), float(reference.double().mean())
    er = rr = ee = 0.0
    for i in range(0, n, block):
        e = estimate[i:i + block].double() - mean_e
        r = reference[i:i + block].double() - mean_r
        er, rr, ee = er + float(e @ r), rr + float(r @ r), ee + float(e @ e)
    scale = er / rr
    target = scale * scale * rr
    return 10 * math.log10(target / max(ee - 2 * scale * er + target, 1e-30))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--chunk-duration", type=float, default=30.0, help="seconds; 0: one piece")
    parser.add_argument("--chunk-overlap", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_summary())

    start = time.perf_counter()
    generator = torch.Generator().manual_seed(1)
    examples = {kind: [hit(kind, generator) for _ in range(3)] for kind in PAN}
    templates = learn_templates(examples, sample_rate=SR, n_fft=2048, hop_length=512, T=16)
    learn_seconds = time.perf_counter() - start

    mixture, references = drum_recording(args.minutes)
    del references  # regenerated for scoring: they must not count in the peak
    before = rss_bytes()
    reset_peak_rss()
    separator = Separator(templates=templates,
                          chunk_duration=args.chunk_duration or None,
                          chunk_overlap=args.chunk_overlap)
    start = time.perf_counter()
    stems = separator.separate(mixture, SR)
    separate_seconds = time.perf_counter() - start
    peak = peak_rss_bytes() - before
    stems_bytes = sum(s.numel() * s.element_size() for s in stems.values())

    _, references = drum_recording(args.minutes)
    scores = {(k, c): si_sdr(stems[k][c], references[k][c]) for k in stems for c in (0, 1)}
    error = max(float((sum(s[:, i:i + SR] for s in stems.values()) - mixture[:, i:i + SR]).abs().max())
                for i in range(0, mixture.shape[1], 60 * SR))

    print(f"mixture: {args.minutes:g} min, 2 channels, {SR} Hz, "
          f"{mixture.numel() * 4 / MB:.0f} MB float32; chunks: {separator.n_chunks_} "
          f"({args.chunk_duration:g} s, {args.chunk_overlap:g} s cross-fades)")
    print(f"learn templates     {learn_seconds:8.1f} s")
    print(f"separate            {separate_seconds:8.1f} s  "
          f"({separate_seconds / (args.minutes * 60):.3f} s per second of audio)")
    print(f"peak RSS above the mixture  {peak / MB:8.0f} MB  (process peak "
          f"{(before + peak) / MB:.0f} MB)")
    print(f"  of which the stems        {stems_bytes / MB:8.0f} MB")
    print(f"  working memory            {(peak - stems_bytes) / MB:8.0f} MB")
    print("SI-SDR (dB): " + ", ".join(f"{k}[{'LR'[c]}] {v:.1f}" for (k, c), v in scores.items()))
    print(f"max |sum of stems - mixture| (first second of every minute): {error:.1e}")


if __name__ == "__main__":
    main()
