"""The WeDLM training objective (spec §7), vectorised over a padded batch on the device.

Per sample: a clean stream x0 (the tokens, positions 0..L-1) and a prediction stream xt. xt is cut
into blocks of `block` positions (grid offset drawn per sample, so windows at inference may start
anywhere); each block draws a mask ratio gamma ~ U(0, 1] and masks round(n * gamma) of its trainable
positions, chosen uniformly; inside a block the observed tokens come first, then the masks, each
keeping its true position. Attention: x0 is causal; an xt row sees the clean x0 history before its
block and the xt rows of its own block physically before it. Loss: the 1/gamma-weighted masked-LM
loss (target = the token at the same position) and the next-token loss on x0, averaged.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class DualStream:
    ids: torch.Tensor        # [B, 2L] x0 then xt
    pos: torch.Tensor        # [B, 2L] RoPE positions
    mask: torch.Tensor       # [B, 1, 2L, 2L] bool, True = may attend
    xt_masked: torch.Tensor  # [B, L] bool: xt row is a mask
    xt_target: torch.Tensor  # [B, L] token at the row's position
    xt_weight: torch.Tensor  # [B, L] 1 / gamma of the row's block
    xt_block: torch.Tensor   # [B, L] block number of the row's position
    offset: torch.Tensor     # [B, 1] block grid offset: block(p) = (p + offset) // block


def _choose_masks(lab, blk, gamma, gen):
    """Mask round(n_b * gamma_b) trainable positions of each block b, uniformly. lab: [B, L]."""
    B, L = lab.shape
    nb = gamma.shape[1]
    ncand = torch.zeros(B, nb, device=lab.device).scatter_add_(1, blk, lab.float())
    k = torch.round(ncand * gamma)
    u = torch.rand(B, L, device=lab.device, generator=gen)
    order = torch.argsort(blk.float() * 4 + (~lab).float() * 2 + u, dim=1)  # candidates first
    sblk = blk.gather(1, order)
    per_block = torch.zeros(B, nb, device=lab.device).scatter_add_(1, blk, torch.ones_like(u))
    first = torch.cumsum(per_block, 1) - per_block
    rank = torch.arange(L, device=lab.device)[None] - first.gather(1, sblk)
    chosen = lab.gather(1, order) & (rank < k.gather(1, sblk))
    return torch.zeros_like(lab).scatter_(1, order, chosen)


def build_dual_stream(ids, lab, block, mask_id, gen=None):
    """ids: int64 [B, L] (padded); lab: bool [B, L] trainable positions."""
    B, L = ids.shape
    dev = ids.device
    pos = torch.arange(L, device=dev)[None].expand(B, L)
    offset = torch.randint(0, block, (B, 1), device=dev, generator=gen)
    blk = (pos + offset) // block
    nb = (L + block - 1) // block + 1
    gamma = torch.rand(B, nb, device=dev, generator=gen).clamp_min(1e-8)
    masked = _choose_masks(lab, blk, gamma, gen)
    perm = torch.argsort(blk * (2 * L) + masked.long() * L + pos, dim=1)
    xt_blk = blk.gather(1, perm)
    xt_masked = masked.gather(1, perm)
    xt_ids = torch.where(masked, torch.full_like(ids, mask_id), ids).gather(1, perm)
    xt_start = (xt_blk * block - offset).clamp_min(0)  # first position of the row's block
    i = torch.arange(2 * L, device=dev)
    causal = (i[None, :] <= i[:, None])[None]           # [1, 2L(q), 2L(k)]
    q_x0, k_x0 = (i < L)[None, :, None], (i < L)[None, None, :]
    full_blk = torch.cat([torch.full_like(xt_blk, -1), xt_blk], 1)
    full_start = torch.cat([torch.zeros_like(xt_start), xt_start], 1)
    same_blk = full_blk[:, :, None] == full_blk[:, None, :]
    sees_history = i[None, None, :] < full_start[:, :, None]
    mask = (q_x0 & k_x0 & causal) | (~q_x0 & k_x0 & sees_history) | (~q_x0 & ~k_x0 & same_blk
                                                                        & causal)
    return DualStream(ids=torch.cat([ids, xt_ids], 1), pos=torch.cat([pos, perm], 1),
                      mask=mask[:, None], xt_masked=xt_masked, xt_target=ids.gather(1, perm),
                      xt_weight=(1.0 / gamma).gather(1, xt_blk), xt_block=xt_blk,
                      offset=offset)


def wedlm_loss(model, ids, lab, block, mask_id, ar_weight=1.0, gen=None):
    """Returns (total, stats dict). total = (L_mlm + ar_weight * L_ar) / (1 + ar_weight)."""
    B, L = ids.shape
    ds = build_dual_stream(ids, lab, block, mask_id, gen)
    h = model.hidden(ds.ids, ds.pos, ds.mask)
    ar_rows = lab[:, 1:]
    ar_logits = model.lm_head(h[:, :L - 1][ar_rows]).float()
    ar_target = ids[:, 1:][ar_rows]
    l_ar = F.cross_entropy(ar_logits, ar_target)
    m_logits = model.lm_head(h[:, L:][ds.xt_masked]).float()
    m_target = ds.xt_target[ds.xt_masked]
    w = ds.xt_weight[ds.xt_masked]
    ce = F.cross_entropy(m_logits, m_target, reduction="none")
    l_mlm = (ce * w).sum() / w.sum().clamp_min(1e-8)
    total = (l_mlm + ar_weight * l_ar) / (1 + ar_weight)
    with torch.no_grad():  # tensors, so that logging decides when to synchronise
        stats = {"ar": l_ar.detach(), "mlm": l_mlm.detach(),
                 "ar_acc": (ar_logits.argmax(-1) == ar_target).float().mean(),
                 "mlm_acc": (m_logits.argmax(-1) == m_target).float().mean()}
    return total, stats
