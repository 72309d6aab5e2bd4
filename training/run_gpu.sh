#!/usr/bin/env bash
# Reproduces the bundled model on one GPU: tokenizer, HF check, training, export, evaluation.
#   training/run_gpu.sh OUTDIR [extra train.py flags]
set -euo pipefail
out=${1:?usage: run_gpu.sh OUTDIR [train.py flags]}; shift
cd "$(dirname "$0")"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
python3 train_tokenizer.py --out "$out/tokenizer.json"
python3 verify_hf.py "$out/tokenizer.json"
python3 train.py --tokenizer "$out/tokenizer.json" --out "$out" "$@"
