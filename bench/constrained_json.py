#!/usr/bin/env python3
"""The bundled model's JSON family with and without a response_format schema, both decoders.

    /usr/bin/python3 bench/constrained_json.py [--bin build/src/tools/wedlm] [--json]

Starts `wedlm serve` on models/wedlm-tiny and sends each held-out JSON prompt (greedy) free and
with a schema made from its answer (its keys in order; integers as integers, strings of at most
24 characters; all required; nothing else). Prints, per (decoder, schema or not): replies that
parse as the asked object, exact answers, tokens per forward.
"""

import argparse
import json
import os
import subprocess
import sys
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HELDOUT = os.path.join(ROOT, "tests", "data", "heldout_wedlm_tiny.jsonl")


def schema_of(answer):
    obj = json.loads(answer)
    props = {k: {"type": "integer"} if isinstance(v, int) else {"type": "string", "maxLength": 24}
             for k, v in obj.items()}
    return {"type": "object", "properties": props, "required": list(obj),
            "additionalProperties": False}


def start(binary):
    proc = subprocess.Popen([binary, "serve", "--port", "0", "-np", "4"], stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stderr:
        event = json.loads(line)
        if event.get("event") == "ready":
            return proc, f"http://127.0.0.1:{event['port']}"
    raise RuntimeError("wedlm serve did not start")


def ask(url, body):
    req = urllib.request.Request(url + "/v1/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=60))


def valid(text, schema):
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    return isinstance(obj, dict) and list(obj) == schema["required"] and all(
        isinstance(obj[k], int) == (p["type"] == "integer") for k, p in schema["properties"].items())


def run(binary):
    rows = [json.loads(l) for l in open(HELDOUT, encoding="utf-8")]
    rows = [r for r in rows if r["family"] == "json"]
    proc, url = start(binary)
    out = {}
    try:
        for mode in ("wedlm", "ar"):
            for constrained in (False, True):
                n_valid = n_exact = tokens = forwards = 0
                for r in rows:
                    schema = schema_of(r["answer"])
                    body = {"messages": r["messages"][:-1], "temperature": 0, "max_tokens": 100,
                            "decode_mode": mode}
                    if constrained:
                        body["response_format"] = {"type": "json_schema",
                                                   "json_schema": {"name": "o", "schema": schema}}
                    reply = ask(url, body)
                    text = reply["choices"][0]["message"]["content"]
                    n_valid += valid(text, schema)
                    n_exact += text == r["answer"]
                    tokens += reply["usage"]["completion_tokens"]
                    forwards += reply["usage"]["timings"]["forwards"]
                out[f"{mode} {'schema' if constrained else 'free'}"] = {
                    "prompts": len(rows), "valid": n_valid, "exact": n_exact,
                    "tokens_per_forward": round(tokens / forwards, 2)}
    finally:
        proc.terminate()
        proc.wait()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "src", "tools", "wedlm"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = run(args.bin)
    if args.json:
        print(json.dumps(res, indent=1))
        return
    print("| decoder, reply | prompts | valid | exact | tokens/forward |\n|---|---|---|---|---|")
    for name, r in res.items():
        print(f"| {name} | {r['prompts']} | {r['valid']} | {r['exact']} | {r['tokens_per_forward']} |")


if __name__ == "__main__":
    sys.exit(main())
