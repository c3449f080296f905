"""The README's Python examples run as written (users copy them first)."""

import pathlib
import re

import pytest
import torch

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_examples():
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
    torch.manual_seed(0)
    namespace = {}
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), namespace)
    # the examples' models reach a finite loss below the one they started from
    for value in namespace.values():
        curve = getattr(value, "loss_curve_", None)
        if curve:
            assert all(map(lambda x: x == x and abs(x) != float("inf"), curve))
            assert curve[-1] < curve[0]
