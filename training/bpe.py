"""Byte-level BPE in the Qwen `tokenizer.json` format: train, encode, decode, save, load.

Pure Python (needs the `regex` module for `\\p{L}` classes). The pipeline is the one Hugging Face
`tokenizers` runs for a Qwen2/Qwen3 tokenizer: NFC normaliser, the Qwen split regex (behaviour
Isolated), ByteLevel mapping without prefix space, BPE merges applied by rank, added special tokens
matched before everything else. `verify_hf.py` checks the saved file against `tokenizers` itself.
"""

import json
import unicodedata
from collections import Counter

import regex

QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
              r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_SPLIT_RE = regex.compile(QWEN_SPLIT)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map, in its canonical order."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def pretokenize(text):
    """NFC, then the Qwen split regex; returns the byte-level strings of the pieces."""
    text = unicodedata.normalize("NFC", text)
    return ["".join(BYTE_TO_CHAR[b] for b in m.encode("utf-8")) for m in _SPLIT_RE.findall(text)]


def _merge_word(symbols, a, b):
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def train_merges(texts, max_merges, min_count=2):
    """Learn up to `max_merges` merges from an iterable of plain texts (no special tokens)."""
    word_freq = Counter()
    for t in texts:
        word_freq.update(pretokenize(t))
    words = [list(w) for w in word_freq]
    freqs = list(word_freq.values())
    pair_count, pair_where = Counter(), {}
    for wi, syms in enumerate(words):
        for p in zip(syms, syms[1:]):
            pair_count[p] += freqs[wi]
            pair_where.setdefault(p, set()).add(wi)
    merges = []
    while len(merges) < max_merges and pair_count:
        best_n = max(pair_count.values())
        if best_n < min_count:
            break
        best = min(p for p, n in pair_count.items() if n == best_n)  # deterministic tie-break
        merges.append(best)
        for wi in list(pair_where.get(best, ())):
            old = words[wi]
            for p in zip(old, old[1:]):
                pair_count[p] -= freqs[wi]
                if pair_count[p] <= 0:
                    del pair_count[p]
                pair_where[p].discard(wi)
            new = _merge_word(old, *best)
            words[wi] = new
            for p in zip(new, new[1:]):
                pair_count[p] += freqs[wi]
                pair_where.setdefault(p, set()).add(wi)
    return merges


class ByteLevelBPE:
    """A trained tokenizer. ids: bytes first, then merge results, then special tokens."""

    def __init__(self, vocab, merges, specials, plain_added=()):
        self.vocab = dict(vocab)                    # token string -> id
        self.merges = [tuple(m) for m in merges]
        self.rank = {m: i for i, m in enumerate(self.merges)}
        self.specials = dict(specials)              # added token text -> id (parsed in encode)
        self.plain_added = set(plain_added)         # those of them not "special": kept by
        # decode(skip_special=True), as HF keeps Qwen3's <tool_call> (tokenizer.json special: false)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.id_to_token.update({i: t for t, i in self.specials.items()})
        alts = sorted(self.specials, key=len, reverse=True)
        self._special_re = regex.compile("|".join(regex.escape(s) for s in alts)) if alts else None
        self._cache = {}

    @classmethod
    def train(cls, texts, vocab_size, special_tokens):
        alphabet = list(BYTE_TO_CHAR.values())
        merges = train_merges(texts, vocab_size - len(alphabet) - len(special_tokens))
        vocab = {c: i for i, c in enumerate(alphabet)}
        for a, b in merges:
            vocab.setdefault(a + b, len(vocab))
        specials = {s: len(vocab) + k for k, s in enumerate(special_tokens)}
        return cls(vocab, merges, specials)

    def _bpe(self, piece):
        if piece in self._cache:
            return self._cache[piece]
        syms = list(piece)
        while len(syms) > 1:
            ranked = [(self.rank.get(p, 1 << 60), p) for p in zip(syms, syms[1:])]
            r, best = min(ranked)
            if r == 1 << 60:
                break
            syms = _merge_word(syms, *best)
        ids = [self.vocab[s] for s in syms]
        self._cache[piece] = ids
        return ids

    def encode_plain(self, text):
        """Encode text with special-token parsing off (what a user typed)."""
        ids = []
        for piece in pretokenize(text):
            ids.extend(self._bpe(piece))
        return ids

    def encode(self, text):
        """Encode like HF `tokenizer.encode(text, add_special_tokens=False)`: specials parsed."""
        if self._special_re is None:
            return self.encode_plain(text)
        ids, pos = [], 0
        for m in self._special_re.finditer(text):
            ids.extend(self.encode_plain(text[pos:m.start()]))
            ids.append(self.specials[m.group(0)])
            pos = m.end()
        ids.extend(self.encode_plain(text[pos:]))
        return ids

    def with_added(self, tokens):
        """This tokenizer with `tokens` added after its last id, not special (HF's added tokens
        with special false: parsed by encode, kept by every decode)."""
        first = max(self.specials.values()) + 1
        specials = dict(self.specials, **{t: first + k for k, t in enumerate(tokens)})
        return ByteLevelBPE(self.vocab, self.merges, specials, self.plain_added | set(tokens))

    def decode(self, ids, skip_special=False):
        special_ids = {i for t, i in self.specials.items() if t not in self.plain_added}
        added_ids = set(self.specials.values())
        out, buf = [], bytearray()
        for i in ids:
            if i in added_ids:
                out.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
                if not (skip_special and i in special_ids):
                    out.append(self.id_to_token[i])
            else:
                buf.extend(CHAR_TO_BYTE[c] for c in self.id_to_token[i])
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)

    def to_json(self):
        bl = {"add_prefix_space": False, "trim_offsets": False, "use_regex": False}
        return {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False,
                              "special": s not in self.plain_added}
                             for s, i in sorted(self.specials.items(), key=lambda x: x[1])],
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN_SPLIT}, "behavior": "Isolated",
                 "invert": False},
                dict(type="ByteLevel", **bl)]},
            "post_processor": dict(type="ByteLevel", **bl),
            "decoder": dict(type="ByteLevel", **bl),
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": "", "end_of_word_suffix": "",
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": self.vocab, "merges": [list(m) for m in self.merges]},
        }

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, ensure_ascii=False, indent=1)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        model = j["model"]
        merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
        specials = {t["content"]: t["id"] for t in j["added_tokens"]}
        plain = {t["content"] for t in j["added_tokens"] if not t.get("special", True)}
        return cls(model["vocab"], merges, specials, plain)
