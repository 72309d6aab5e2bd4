"""The bundled model v2's chat format (Qwen3's, with tools) rendered to text and token ids in
Python, for the second data stream (datagen_v2.py) and its held-out prompts.

The exported template is `qwen3_chat_template.jinja` (QWEN3_TEMPLATE); `render_text` produces
what it renders (tests/python/test_chatml_qwen3.py checks them against the Jinja oracle's
renderings, which also equal Qwen3's own template's). Encoding is the engine's
(ChatTemplate::encode): the rendered text with special tokens parsed only in the template's own
text, never inside message content, tool definitions or call arguments.

Training (`training_ids`): each assistant turn is trained as what the model generates after the
generation prompt `<|im_start|>assistant\\n`: its content, its <tool_call> blocks and
`<|im_end|>`. No think block: the engine's prompt never holds one unless a client asks for
`enable_thinking: false`, so the model learns to answer directly. (Qwen3's template, rendering a
whole conversation, puts an empty think block before the last turn; no prompt the engine makes
ends that way.)
"""

import json
import os

import chatml

QWEN3_TEMPLATE = open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   "qwen3_chat_template.jinja"), encoding="utf-8").read().rstrip("\n")

TOOLS_INTRO = ("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
               "You are provided with function signatures within <tools></tools> XML tags:\n"
               "<tools>")
TOOLS_OUTRO = ("\n</tools>\n\nFor each function call, return a json object with function name and "
               "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
               "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n")


# Added to the first model's tokenizer for v2 (ids 2014-2019, rows its 2048-row embedding already
# has): one token each, as in Qwen3, so that the engine sees a call begin (tool_choice "auto").
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>",
               "</think>"]


def tokenizer_v2(tok):
    """The first model's tokenizer with TOOL_TOKENS added (not special: kept in decoded text)."""
    return tok.with_added(TOOL_TOKENS)


def tojson(x):
    """transformers' `tojson`: json.dumps with its default separators, non-ASCII kept."""
    return json.dumps(x, ensure_ascii=False)


def _split_reasoning(m):
    content = m.get("content") or ""
    if m.get("reasoning_content") is not None:
        return content, m["reasoning_content"]
    if "</think>" in content:
        before, after = content.split("</think>")[0], content.split("</think>")[-1]
        return after.lstrip("\n"), before.rstrip("\n").split("<think>")[-1].lstrip("\n")
    return content, ""


def _calls(m, text, out):
    for k, c in enumerate(m.get("tool_calls") or []):
        f = c.get("function") or c
        if k > 0 or text:
            out.append(("\n", False))
        args = f["arguments"]
        out += [('<tool_call>\n{"name": "', False), (f["name"], True), ('", "arguments": ', False),
                 (args if isinstance(args, str) else tojson(args), True), ("}\n</tool_call>", False)]


def pieces(messages, tools=None, add_generation_prompt=False, enable_thinking=None,
           plain_last=False):
    """The rendering as (text, is_content) pieces. `plain_last`: the last assistant turn without
    the think block the template gives it (what training targets; see the module docstring)."""
    out = []
    first_system = bool(messages) and messages[0]["role"] == "system"
    if tools:
        out.append(("<|im_start|>system\n", False))
        if first_system:
            out += [(messages[0]["content"], True), ("\n\n", False)]
        out.append((TOOLS_INTRO, False))
        for t in tools:
            out += [("\n", False), (tojson(t), True)]
        out.append((TOOLS_OUTRO, False))
    elif first_system:
        out += [("<|im_start|>system\n", False), (messages[0]["content"], True),
                ("<|im_end|>\n", False)]
    last_query = len(messages) - 1
    for i in range(len(messages) - 1, -1, -1):
        c = messages[i].get("content") or ""
        if messages[i]["role"] == "user" and not (c.startswith("<tool_response>")
                                                  and c.endswith("</tool_response>")):
            last_query = i
            break
    for i, m in enumerate(messages):
        role = m["role"]
        if role == "user" or (role == "system" and i > 0):
            out += [(f"<|im_start|>{role}\n", False), (m["content"], True),
                    ("<|im_end|>\n", False)]
        elif role == "assistant":
            text, thought = _split_reasoning(m)
            out.append(("<|im_start|>assistant\n", False))
            last = i == len(messages) - 1
            if i > last_query and (thought or (last and not plain_last)):
                out += [("<think>\n", False), (thought.strip("\n"), True),
                        ("\n</think>\n\n", False), (text.lstrip("\n"), True)]
            else:
                out.append((text, True))
            _calls(m, text, out)
            out.append(("<|im_end|>\n", False))
        elif role == "tool":
            if i == 0 or messages[i - 1]["role"] != "tool":
                out.append(("<|im_start|>user", False))
            out += [("\n<tool_response>\n", False), (m["content"], True),
                    ("\n</tool_response>", False)]
            if i == len(messages) - 1 or messages[i + 1]["role"] != "tool":
                out.append(("<|im_end|>\n", False))
    if add_generation_prompt:
        out.append(("<|im_start|>assistant\n", False))
        if enable_thinking is False:
            out.append(("<think>\n\n</think>\n\n", False))
    return out


def render_text(messages, tools=None, add_generation_prompt=False, enable_thinking=None):
    return "".join(t for t, _ in pieces(messages, tools, add_generation_prompt, enable_thinking))


def encode_pieces(tok, parts):
    """Ids of the pieces: special tokens parsed in template text only; between specials the text
    (template and content alike) encoded as one run, as a tokenizer sees it."""
    ids, run = [], ""
    for text, is_content in parts:
        while text:
            hit = None if is_content else min(  # the first special; the longest at a tie
                ((text.find(s), -len(s), s) for s in tok.specials if s in text), default=None)
            if hit is None:
                run += text
                break
            at, _, s = hit
            ids += tok.encode_plain(run + text[:at])
            run = ""
            ids.append(tok.specials[s])
            text = text[at + len(s):]
    return ids + tok.encode_plain(run)


def prompt_ids(tok, messages, tools=None):
    """Ids of `messages` (and `tools`) followed by the generation prompt."""
    return encode_pieces(tok, pieces(messages, tools, add_generation_prompt=True))


def training_ids(tok, messages, tools=None, n_learnable_im_end=1):
    """(ids, labels) as chatml.training_ids: every assistant turn trained as generated after its
    prompt (content, calls, `<|im_end|>`), plus `n_learnable_im_end - 1` extra `<|im_end|>`."""
    end = tok.specials["<|im_end|>"]

    def body(k):
        turn = pieces(messages[:k + 1], tools, plain_last=True)
        start = max(i for i, (t, c) in enumerate(turn) if t == "<|im_start|>assistant\n" and not c)
        assert turn[-1] == ("<|im_end|>\n", False)
        return encode_pieces(tok, turn[start + 1:-1]) + [end]  # content, calls, <|im_end|>

    return chatml.label_turns(tok, messages, lambda prefix: prompt_ids(tok, prefix, tools), body,
                              n_learnable_im_end)
