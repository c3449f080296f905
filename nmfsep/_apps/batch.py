"""Batch separation of many files, on one process or split across ``torch.distributed`` ranks.

Each file's stems are written into a temporary folder that is renamed to ``OUT/<name>/`` only
once every stem is complete, so an interrupted run leaves no partial outputs and a rerun skips
the files already done (it is resumable). A file that fails is reported at the end and does not
stop the others.

Launch across processes with torchrun (see ``docs/distributed.md``)::

    torchrun --nproc-per-node 2 -m nmfsep separate --distributed --recipe drums *.wav --out stems/
"""

from __future__ import annotations

import datetime
import os
import shutil
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import torch
from tqdm import tqdm  # the text bar: tqdm.auto warns in kernels without ipywidgets

from .._errors import ParameterError
from .._pipeline._files import remove_stale_temporaries, temporary_name

__all__ = ["BatchReport", "separate_many"]


@dataclass
class BatchReport:
    """What a batch run did: outputs per input, inputs skipped as already done, failures."""

    written: Dict[str, Path] = field(default_factory=dict)
    skipped: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def _output_dir(out_dir: Path, path: Path) -> Path:
    return out_dir / path.stem


def _separate_one(run: Callable, path: Path, out_dir: Path, kwargs) -> Path:
    final = _output_dir(out_dir, path)
    out_dir.mkdir(parents=True, exist_ok=True)
    # named like every nmfsep temporary: a killed run's is removed by the next run
    staging = temporary_name(final)
    staging.mkdir()
    try:
        run(str(path), str(staging), **kwargs)
        os.replace(staging, final)  # the whole folder appears at once
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


class _World:
    """Rank, size and the few collectives a batch needs; a single process without torchrun."""

    def __init__(self, distributed: bool, timeout_minutes: float):
        self.dist = None
        self.rank, self.size = 0, 1
        if not distributed:
            return
        import torch.distributed as dist  # noqa: PLC0415 - only --distributed needs it

        if not dist.is_initialized():
            if "RANK" not in os.environ:
                raise RuntimeError("--distributed needs to be launched by torchrun (RANK/WORLD_SIZE are unset)")
            dist.init_process_group("gloo", timeout=datetime.timedelta(minutes=timeout_minutes))
        self.dist = dist
        self.rank, self.size = dist.get_rank(), dist.get_world_size()

    def sum(self, value: int) -> int:
        if self.dist is None:
            return value
        total = torch.tensor([value], dtype=torch.int64)
        try:
            self.dist.all_reduce(total)
        except RuntimeError as err:
            raise RuntimeError(
                f"rank {self.rank}: another rank stopped answering ({err}); finished files are complete "
                f"in the output folder, rerun the same command to resume"
            ) from err
        return int(total)

    def gather(self, obj):
        if self.dist is None:
            return [obj]
        everything = [None] * self.size
        self.dist.all_gather_object(everything, obj)
        return everything


def separate_many(
    paths: Sequence[os.PathLike],
    out_dir: os.PathLike,
    run: Callable[..., object],
    *,
    distributed: bool = False,
    verbose: bool = True,
    timeout_minutes: float = 30.0,
    **run_kwargs,
) -> BatchReport:
    """Separate every file in ``paths`` into ``out_dir/<file stem>/`` with ``run``.

    Parameters
    ----------
    paths : sequence of path
        Input mixtures. Duplicated stems are an error (their outputs would collide).
    out_dir : path
        Output root; ``out_dir/<stem>/`` folders that already exist are skipped (resume).
    run : callable
        ``run(mixture_path, output_folder, **run_kwargs)`` writes the stems of one file, e.g.
        ``functools.partial(nmfsep.recipes.run_recipe, "drums")``.
    distributed : bool
        Split the files across the ranks of a torchrun launch (round robin); rank 0 shows one
        progress bar for all ranks and every rank returns the merged report.
    verbose : bool
        Show the progress bar.

    Returns
    -------
    BatchReport
    """
    paths = [Path(p) for p in paths]
    stems = [p.stem for p in paths]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ParameterError(f"input files share the names {duplicates}: their outputs would collide; rename them")
    out_dir = Path(out_dir)
    world = _World(distributed, timeout_minutes)
    remove_stale_temporaries(out_dir)  # staging folders of killed runs (live ranks' are kept)
    mine = paths[world.rank::world.size]
    rounds = -(-len(paths) // world.size)
    report = BatchReport()
    with tqdm(total=len(paths), disable=not verbose or world.rank != 0, desc="separating", unit="file") as bar:
        for index in range(rounds):  # every rank takes part in every round's collective
            if index < len(mine):
                path = mine[index]
                if _output_dir(out_dir, path).exists():
                    report.skipped.append(str(path))
                else:
                    try:
                        report.written[str(path)] = _separate_one(run, path, out_dir, run_kwargs)
                    except Exception as err:  # one bad file must not stop the others
                        report.failed[str(path)] = f"{type(err).__name__}: {err}"
                        if os.environ.get("NMFSEP_DEBUG"):
                            traceback.print_exc()
            done_this_round = world.sum(1 if index < len(mine) else 0)
            bar.update(done_this_round)
    merged = BatchReport()
    for part in world.gather(report):
        merged.written.update(part.written)
        merged.skipped.extend(part.skipped)
        merged.failed.update(part.failed)
    return merged
