"""ChatML rendering to token ids, with the training labels of the assistant turns.

Rendering is the one the exported `chat_template` performs: for every message
`<|im_start|>{role}\\n{content}<|im_end|>\\n`, then `<|im_start|>assistant\\n` as the generation
prompt. Text between markers is encoded with special-token parsing off; the markers are inserted
as ids, so user text can never produce a control token.
"""

IM_START, IM_END, ENDOFTEXT, MASK = "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|mask|>"
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END, MASK]

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def render_text(messages, add_generation_prompt):
    """The template's text output (for tests and for `tokenizer.encode` comparisons)."""
    out = "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in messages)
    return out + (f"{IM_START}assistant\n" if add_generation_prompt else "")


def prompt_ids(tok, messages):
    """Ids of `messages` followed by the generation prompt."""
    start, end = tok.specials[IM_START], tok.specials[IM_END]
    ids = []
    for m in messages:
        ids += [start] + tok.encode_plain(f"{m['role']}\n{m['content']}") + [end]
        ids += tok.encode_plain("\n")
    return ids + [start] + tok.encode_plain("assistant\n")


def label_turns(tok, messages, head, body, n_learnable_im_end):
    """(ids, labels) of a conversation: head(messages[:k]) is the prompt before assistant turn k
    (each must extend the ids so far), body(k) the ids of turn k as generated, ending in
    `<|im_end|>`; labels True on the bodies, plus `n_learnable_im_end - 1` extra `<|im_end|>`
    after the last turn. Turns other than the last are followed by the newline of the format."""
    end = tok.specials[IM_END]
    ids, labels = [], []
    for k, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        h = head(messages[:k])  # renders every earlier turn again
        assert h[:len(ids)] == ids, "rendering of earlier turns is not a prefix"
        labels += [False] * (len(h) - len(ids))
        ids = list(h)
        b = body(k)
        assert b[-1] == end
        ids += b
        labels += [True] * len(b)
        if k != len(messages) - 1:
            ids += tok.encode_plain("\n")
            labels.append(False)
    extra = max(0, n_learnable_im_end - 1)
    return ids + [end] * extra, labels + [True] * extra


def training_ids(tok, messages, n_learnable_im_end):
    """(ids, labels): labels[i] is True where ids[i] is trained (assistant content and its
    closing `<|im_end|>`, plus `n_learnable_im_end - 1` extra `<|im_end|>` after the last turn)."""
    end = tok.specials[IM_END]
    return label_turns(tok, messages, lambda prefix: prompt_ids(tok, prefix),
                       lambda k: tok.encode_plain(messages[k]["content"]) + [end],
                       n_learnable_im_end)
