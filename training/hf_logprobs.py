"""Score the bundled checkpoint with Hugging Face transformers (external parity fixture).

    python3 training/hf_logprobs.py --model models/wedlm-tiny \
        --heldout tests/data/heldout_wedlm_tiny.jsonl --out hf_logprobs.json [--n 26]

Loads the directory as a `Qwen3ForCausalLM` (its config with model_type qwen3; the WeDLM weights
are plain Qwen3 weights), float32 compute on the bf16 weights, and writes for the first example of
each family (and then more, up to --n) the full ChatML conversation ids with
next_logprob[t] = log softmax(logits[t])[ids[t+1]] and argmax[t].
"""

import argparse
import json

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM
from safetensors.torch import load_file

import bpe  # training/, this script's own folder


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=26)
    args = ap.parse_args()
    cfg = json.load(open(f"{args.model}/config.json"))
    cfg["model_type"] = "qwen3"
    for k in ("architectures", "mask_token_id", "qk_norm"):
        cfg.pop(k, None)
    model = Qwen3ForCausalLM(Qwen3Config(**cfg)).float().eval()
    state = {k: v.float() for k, v in load_file(f"{args.model}/model.safetensors").items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    rows = [json.loads(line) for line in open(args.heldout)]
    firsts, seen = [], set()
    for r in rows:
        if r["family"] not in seen:
            seen.add(r["family"])
            firsts.append(r)
    picked = (firsts + [r for r in rows if r not in firsts])[:args.n]
    out = []
    tok = bpe.ByteLevelBPE.load(f"{args.model}/tokenizer.json")
    end = tok.specials["<|im_end|>"]
    for r in picked:
        ids = r["prompt_ids"] + tok.encode_plain(r["messages"][-1]["content"]) + [end]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].double()
        lp = torch.log_softmax(logits, -1)
        out.append({"family": r["family"], "ids": ids,
                    "next_logprob": [lp[t, ids[t + 1]].item() for t in range(len(ids) - 1)],
                    "argmax": logits.argmax(-1).tolist()})
    json.dump({"source": "transformers Qwen3ForCausalLM, float32 on bf16 weights",
               "model": args.model, "cases": out}, open(args.out, "w"))
    print(f"wrote {len(out)} cases to {args.out}")


if __name__ == "__main__":
    main()
