"""Export a trained model as a Hugging Face directory laid out like a real WeDLM checkpoint.

Files: config.json (model_type wedlm, mask_token_id), generation_config.json, model.safetensors
(bf16, written here byte by byte: JSON header + raw little-endian data), tokenizer.json and
tokenizer_config.json (ChatML chat_template).
"""

import json
import os
import shutil
import struct

import torch

import chatml


def write_safetensors(path, tensors):
    """tensors: dict name -> torch tensor (any dtype of F32/BF16/F16). Row-major, contiguous."""
    names = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype != torch.float32 \
            else t.numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def hf_config(cfg, specials):
    return {
        "architectures": ["WeDLMForCausalLM"], "model_type": "wedlm",
        "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size, "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_key_value_heads, "head_dim": cfg.head_dim,
        "hidden_act": "silu", "max_position_embeddings": cfg.max_position_embeddings,
        "rms_norm_eps": cfg.rms_norm_eps, "rope_theta": cfg.rope_theta, "rope_scaling": None,
        "tie_word_embeddings": False, "attention_bias": False, "qk_norm": True,
        "mask_token_id": specials[chatml.MASK], "bos_token_id": specials[chatml.ENDOFTEXT],
        "eos_token_id": specials[chatml.IM_END], "pad_token_id": specials[chatml.ENDOFTEXT],
        "torch_dtype": "bfloat16",
    }


def tokenizer_config(specials, max_len, chat_template=chatml.CHAT_TEMPLATE, plain_added=()):
    """`chat_template`: the first model's ChatML, or chatml_qwen3.QWEN3_TEMPLATE for v2, whose
    tool tokens (`plain_added`) are added tokens that are not special."""
    return {
        "add_bos_token": False, "add_prefix_space": False, "bos_token": None,
        "eos_token": chatml.IM_END, "pad_token": chatml.ENDOFTEXT, "unk_token": None,
        "additional_special_tokens": [chatml.IM_START, chatml.IM_END, chatml.MASK],
        "added_tokens_decoder": {str(i): {"content": s, "lstrip": False, "normalized": False,
                                          "rstrip": False, "single_word": False,
                                          "special": s not in plain_added}
                                 for s, i in sorted(specials.items(), key=lambda x: x[1])},
        "chat_template": chat_template, "clean_up_tokenization_spaces": False,
        "errors": "replace", "model_max_length": max_len, "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
    }


def export(model, tok, tokenizer_path, out_dir, chat_template=chatml.CHAT_TEMPLATE):
    os.makedirs(out_dir, exist_ok=True)
    cfg, specials = model.c, tok.specials
    dump = lambda obj, name: json.dump(obj, open(os.path.join(out_dir, name), "w"), indent=2)
    dump(hf_config(cfg, specials), "config.json")
    dump({"eos_token_id": [specials[chatml.IM_END], specials[chatml.ENDOFTEXT]],
          "pad_token_id": specials[chatml.ENDOFTEXT]}, "generation_config.json")
    dump(tokenizer_config(specials, cfg.max_position_embeddings, chat_template, tok.plain_added),
         "tokenizer_config.json")
    shutil.copyfile(tokenizer_path, os.path.join(out_dir, "tokenizer.json"))
    state = {k: v.to(torch.bfloat16) for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(out_dir, "model.safetensors"), state)
