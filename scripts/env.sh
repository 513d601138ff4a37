# Sourced by the Makefile targets and .ci/run: offline mode and every cache inside the project.
# Usage: source scripts/env.sh
MOTE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MOTE_ROOT
export MOTE_CACHE="${MOTE_CACHE:-$MOTE_ROOT/.cache}"
# No model hub is assumed: a user with network can unset these three (see README, "Going online").
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
export HF_DATASETS_OFFLINE="${HF_DATASETS_OFFLINE:-1}"
export TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}"
export HF_HOME="$MOTE_CACHE/huggingface"
export MTEB_CACHE="$MOTE_CACHE/mteb"
export MPLCONFIGDIR="$MOTE_CACHE/matplotlib"
export JUPYTER_CONFIG_DIR="$MOTE_CACHE/jupyter/config"
export JUPYTER_DATA_DIR="$MOTE_CACHE/jupyter/data"
export JUPYTER_RUNTIME_DIR="$MOTE_CACHE/jupyter/runtime"
export IPYTHONDIR="$MOTE_CACHE/ipython"
export TOKENIZERS_PARALLELISM=false
