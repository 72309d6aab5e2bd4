"""Train the bundled WeDLM model with the dual-stream objective, evaluate it, export it.

    python3 train.py --tokenizer tokenizer.json --out OUTDIR [--steps 6000] [--examples 600000]
    python3 train.py --stream 2 --init ../models/wedlm-tiny --tokenizer \
        ../models/wedlm-tiny/tokenizer.json --out OUTDIR ...     # v2: tools, schema, counts

`--stream 2` trains on datagen_v2's stream in the v2 chat format (chatml_qwen3): the tokenizer
gains the tool tokens (written to OUTDIR/tokenizer.json; their embedding and LM-head rows start
from the mean of the trained ones), sequences up to 1024 tokens, both held-out sets left out, the
export carries the v2 template, and the evaluation adds the new families.

Writes OUTDIR/model/ (the Hugging Face directory), OUTDIR/train_log.txt and OUTDIR/eval.json.
Deterministic for a given device and step count (seeded data, masks and init).
"""

import argparse
import json
import math
import os
import time

import torch

import bpe
import chatml
import chatml_qwen3
import dataset
import datagen
import datagen_v2
import evaluate
import export
from model import Config, WeDLMModel
from objective import wedlm_loss


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--examples", type=int, default=600000)
    ap.add_argument("--tokens-per-batch", type=int, default=32768)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--eval-per-family", type=int, default=10)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--learnable-im-end", type=int, default=16,
                    help="trained <|im_end|> tokens after each reply (spec §7.3)")
    ap.add_argument("--init", help="start from the weights of an exported model directory")
    ap.add_argument("--max-train-seconds", type=float, default=0,
                    help="stop training after this long (0: never) and still export and evaluate")
    ap.add_argument("--stream", type=int, default=1, choices=(1, 2),
                    help="1: datagen (the first model); 2: datagen_v2 in the v2 chat format")
    return ap.parse_args()


def start_new_rows(model, ids):
    """Rows of tokens the model has never seen (the v2 tool tokens, ids after every trained
    one): the mean of the rows below them, in the embedding and the LM head, so that they start
    as an average token."""
    with torch.no_grad():
        for w in (model.model.embed_tokens.weight, model.lm_head.weight):
            w[ids] = w[:min(ids)].mean(dim=0)


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def make_optimizer(model, args, device):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}]
    kw = {"fused": True} if device == "cuda" else {}
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), **kw)


def train(model, batcher, args, device, log):
    opt = make_optimizer(model, args, device)
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    mask_id = model.mask_id
    t0, it = time.time(), iter(batcher)
    for step in range(args.steps):
        if args.max_train_seconds and time.time() - t0 > args.max_train_seconds:
            log(f"step {step}: --max-train-seconds {args.max_train_seconds:.0f} reached, stopping")
            break
        ids, lab = next(it)
        ids = torch.from_numpy(ids).to(device, non_blocking=True)
        lab = torch.from_numpy(lab).to(device, non_blocking=True)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss, st = wedlm_loss(model, ids, lab, args.block, mask_id, gen=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            s = {k: round(float(v), 4) for k, v in st.items()}
            log(f"step {step:5d} lr {lr_at(step, args):.2e} loss {loss.item():.4f} {s} "
                f"{time.time() - t0:.0f}s")


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    logf = open(os.path.join(args.out, "train_log.txt"), "w")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = bpe.ByteLevelBPE.load(args.tokenizer)
    tok_path = args.tokenizer
    if args.stream == 2:
        tok = chatml_qwen3.tokenizer_v2(tok)
        tok_path = os.path.join(args.out, "tokenizer.json")
        tok.save(tok_path)
    evals = dataset.eval_set(30)
    exclude = dataset.held_out_keys(args.stream)
    t0 = time.time()
    rows = dataset.build_train_set(tok_path, args.examples, exclude, args.learnable_im_end,
                                   args.workers, stream=args.stream)
    log(f"train set: {len(rows)} examples, {sum(len(r[0]) for r in rows)} tokens, "
        f"{time.time() - t0:.0f}s; {vars(args)}")
    n_vocab = max(max(tok.vocab.values()), max(tok.specials.values())) + 1
    cfg = Config(vocab_size=(n_vocab + 63) // 64 * 64, hidden_size=args.hidden,
                 intermediate_size=args.ffn, num_hidden_layers=args.layers)
    model = WeDLMModel(cfg).to(device)
    if args.init:
        model.load_state_dict(evaluate.load_hf(args.init).state_dict())
    if args.stream == 2:
        start_new_rows(model, [tok.specials[t] for t in chatml_qwen3.TOOL_TOKENS])
    model.mask_id = tok.specials[chatml.MASK]
    log(f"model: {sum(p.numel() for p in model.parameters())} parameters, {cfg}")
    batcher = dataset.BucketBatcher(rows, args.tokens_per_batch, tok.specials[chatml.ENDOFTEXT],
                                    seed=args.seed,
                                    buckets=dataset.BUCKETS_V2 if args.stream == 2
                                    else dataset.BUCKETS)
    t0 = time.time()
    model.train()
    train(model, batcher, args, device, log)
    log(f"training: {time.time() - t0:.0f}s on {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}")
    model.eval()
    export.export(model, tok, tok_path, os.path.join(args.out, "model"),
                  chatml_qwen3.QWEN3_TEMPLATE if args.stream == 2 else chatml.CHAT_TEMPLATE)
    exported = evaluate.load_hf(os.path.join(args.out, "model"), device)
    if args.stream == 2:
        evals += datagen_v2.eval_set_v2(30)
    families = datagen_v2.FAMILIES_V2 if args.stream == 2 else datagen.FAMILIES
    sub = [e for f in families for e in [x for x in evals if x["family"] == f]
           [:args.eval_per_family]]
    t0 = time.time()
    table, res = evaluate.run_eval(exported, tok, sub, log=log)
    log(f"eval: {time.time() - t0:.0f}s")
    json.dump({"table": table, "rows": res}, open(os.path.join(args.out, "eval.json"), "w"),
              indent=1)


if __name__ == "__main__":
    main()
