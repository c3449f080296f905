"""Batch separation: resumable, atomic per file, one bad file does not stop the others."""

from pathlib import Path

import pytest

from nmfsep._apps.batch import separate_many


def fake_run(mixture_path, out_folder, *, fail_on=()):
    name = Path(mixture_path).stem
    if name in fail_on:
        (Path(out_folder) / "half_written.wav").write_bytes(b"x")
        raise ValueError(f"cannot decode {mixture_path}")
    for stem in ("a", "b"):
        (Path(out_folder) / f"{stem}.wav").write_text(name)


def test_batch_writes_skips_and_reports(tmp_path):
    inputs = [tmp_path / f"in/{n}.wav" for n in ("one", "two", "bad", "four")]
    out = tmp_path / "out"
    report = separate_many(inputs, out, fake_run, verbose=False, fail_on=("bad",))
    assert sorted(Path(p).stem for p in report.written) == ["four", "one", "two"]
    assert list(report.failed) == [str(inputs[2])] and "cannot decode" in report.failed[str(inputs[2])]
    assert (out / "one" / "a.wav").read_text() == "one"
    # nothing of the failed file is left, not even its staging folder
    assert sorted(p.name for p in out.iterdir()) == ["four", "one", "two"]
    # a rerun resumes: finished files are skipped, the failed one is tried again
    again = separate_many(inputs, out, fake_run, verbose=False)
    assert sorted(Path(p).stem for p in again.skipped) == ["four", "one", "two"]
    assert [Path(p).stem for p in again.written] == ["bad"] and again.ok


def test_batch_refuses_colliding_names(tmp_path):
    with pytest.raises(ValueError, match="collide"):
        separate_many([tmp_path / "a/x.wav", tmp_path / "b/x.flac"], tmp_path / "out", fake_run)


def test_distributed_needs_torchrun(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(RuntimeError, match="torchrun"):
        separate_many([tmp_path / "x.wav"], tmp_path / "out", fake_run, distributed=True)


def _rank_worker(rank, tmp):
    import pickle

    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp}/rdv", rank=rank, world_size=2)
    try:
        inputs = [Path(tmp) / f"in/{n}.wav" for n in ("one", "two", "bad", "four", "five")]
        report = separate_many(inputs, Path(tmp) / "out", fake_run, distributed=True, verbose=False,
                               fail_on=("bad",))
        (Path(tmp) / f"report{rank}.pkl").write_bytes(pickle.dumps(report))
    finally:
        dist.destroy_process_group()


def test_two_ranks_split_the_files_and_merge_reports(tmp_path):
    import pickle

    import torch.multiprocessing as mp

    mp.spawn(_rank_worker, args=(str(tmp_path),), nprocs=2, join=True)
    reports = [pickle.loads((tmp_path / f"report{r}.pkl").read_bytes()) for r in range(2)]
    for report in reports:  # every rank returns the merged report
        assert sorted(Path(p).stem for p in report.written) == ["five", "four", "one", "two"]
        assert [Path(p).stem for p in report.failed] == ["bad"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["five", "four", "one", "two"]
