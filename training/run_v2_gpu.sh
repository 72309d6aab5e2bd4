#!/usr/bin/env bash
# Stage 3, the bundled model v2 (issue 21), in one GPU device call from the repository root:
#   training/run_v2_gpu.sh [train.py flags]
# Continues models/wedlm-tiny on the second data stream (datagen_v2: tools, schema, counts of
# every length, the old families kept) in the v2 chat format, exports, evaluates 10 held-out
# examples per family old and new with the PyTorch decoders, and leaves in $OUT the 7 files to
# bring back: the model directory's 5 files, train_log.txt and eval.json. Training stops at
# 4000 steps or 330 s; the whole call stays under its 10 minutes (timeout 570).
set -euo pipefail
cd "$(dirname "$0")"
run=/tmp/wedlm-v2
dest="${OUT:-/tmp/wedlm-v2-out}"
mkdir -p "$run" "$dest"
export PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
# training stops at 330 s whatever step it reached (v2's sequences are about twice v1's, so a
# step may take longer than stage 2's 80 ms), leaving time to export and evaluate
timeout 570 python3 train.py --stream 2 --init ../models/wedlm-tiny \
  --tokenizer ../models/wedlm-tiny/tokenizer.json --out "$run" --steps 4000 --lr 1e-3 \
  --warmup 100 --examples 1000000 --learnable-im-end 16 --eval-per-family 10 \
  --max-train-seconds 330 "$@" || status=$?
cp "$run"/model/* "$run"/train_log.txt "$dest"/ 2> /dev/null || true
cp "$run"/eval.json "$dest"/ 2> /dev/null || true
ls -la "$dest"
exit "${status:-0}"
