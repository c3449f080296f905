#!/usr/bin/env bash
# Make nmfsep's audio examples (audio_examples/) from Debian's recorded samples.
#
# Installs the sample packages and the renderer with apt-get, checks the Python
# dependencies of the project's .venv (installing them there only if missing), then
# runs scripts/make_audio_examples.py with a fixed seed, so the output is reproducible
# for given package versions.
#
# Usage: scripts/make_audio_examples.sh [extra arguments for make_audio_examples.py]
#   SKIP_APT=1   do not run apt-get (packages already installed)
#   PYTHON=...   interpreter to use (default: .venv/bin/python, else python3)
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(hydrogen-drumkits fluid-soundfont-gm fluidsynth)

if [[ "${SKIP_APT:-0}" != 1 ]]; then
    SUDO=""
    if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi
for pkg in "${PACKAGES[@]}"; do
    echo "$pkg $(dpkg-query -W -f='${Version}' "$pkg")"
done

PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if ! "$PYTHON" -c "import numpy, scipy, soundfile" 2>/dev/null; then
    if [[ "$PYTHON" != .venv/bin/python ]]; then
        echo "numpy, scipy or soundfile missing for $PYTHON; run 'make test' to create .venv" >&2
        exit 1
    fi
    "$PYTHON" -m pip install -c constraints.txt numpy scipy soundfile
fi

"$PYTHON" scripts/make_audio_examples.py --out audio_examples --seed 2024 --overwrite "$@"
du -sh audio_examples
