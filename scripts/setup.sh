#!/usr/bin/env bash
# Builds the project's virtual environment: system packages, the pinned torch/torchaudio pair,
# and nmfsep itself (editable) with its test extra. Safe to run again.
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

# libsndfile comes inside the soundfile wheel; nothing from apt is required for the package or
# its tests. scripts/make_audio_examples.sh installs the sample packages it needs itself.

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# pip's own failures must stop set-up; only this machine's noise about missing local indexes is hidden.
pip() {
  "$venv/bin/python" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }
  return "${PIPESTATUS[0]}"
}
# torch first, pinned: its CUDA build is what torchaudio's wheel needs (see DEVELOPERS.md).
pip install -q -c constraints.txt torch torchaudio
pip install -q -c constraints.txt -e ".[test]"
# torchnmf (API-compatibility tests, benchmarks) pins nothing useful: install without deps.
pip install -q --no-deps "torchnmf>=0.3"
# overcomplete (side-by-side tests of nmfsep.compat.overcomplete): its optimization package
# needs only torch; the package's own imports (torchvision, ...) are never loaded by the tests.
pip install -q --no-deps "overcomplete==0.3.0"
"$venv/bin/python" - <<'PY'
import torch, torchaudio, nmfsep
print(f"nmfsep {nmfsep.__version__}: torch {torch.__version__}, torchaudio {torchaudio.__version__}")
PY
