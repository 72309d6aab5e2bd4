"""Shared paths for the Python tests; importing it puts training/ and reference/ on sys.path."""

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
for sub in ("training", "reference"):
    path = os.path.join(ROOT, sub)
    if path not in sys.path:
        sys.path.insert(0, path)

MODEL = os.path.join(ROOT, "models", "wedlm-tiny")
TOKENIZER = os.path.join(MODEL, "tokenizer.json")
HELDOUT = os.path.join(ROOT, "tests", "data", "heldout_wedlm_tiny.jsonl")
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))
