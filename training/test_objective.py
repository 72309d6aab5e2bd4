"""Checks the vectorised dual-stream construction against the rules of spec §7, element by element.

Needs PyTorch (Debian python3-torch); skipped without it. Run: python3 -m unittest test_objective
"""

import unittest

try:
    import torch
    from objective import build_dual_stream
except ImportError:  # the training stack is optional outside the GPU machine
    torch = None


@unittest.skipIf(torch is None, "PyTorch not installed: dual-stream checks skipped")
class DualStreamTest(unittest.TestCase):
    def check_sample(self, ids, lab, ds, b, L, block, mask_id):
        pos = ds.pos[b, L:].tolist()
        masked = ds.xt_masked[b].tolist()
        self.assertEqual(sorted(pos), list(range(L)))               # a permutation
        self.assertEqual(ds.pos[b, :L].tolist(), list(range(L)))
        off = ds.offset[b, 0].item()
        blk_of = {p: (p + off) // block for p in range(L)}
        self.assertEqual(ds.xt_block[b].tolist(), [blk_of[p] for p in pos])
        for r in range(L):
            p = pos[r]
            tok = ds.ids[b, L + r].item()
            self.assertEqual(ds.xt_target[b, r].item(), ids[b, p].item())
            self.assertEqual(tok, mask_id if masked[r] else ids[b, p].item())
            if masked[r]:
                self.assertTrue(lab[b, p].item(), "only trainable positions are masked")
            if r + 1 < L and blk_of[pos[r + 1]] == blk_of[p]:
                # inside a block: observed before masks, each group ascending
                self.assertLessEqual((masked[r], p), (masked[r + 1], pos[r + 1]))
        for qi in range(2 * L):
            for kj in range(2 * L):
                got = bool(ds.mask[b, 0, qi, kj])
                if qi < L:
                    want = kj < L and kj <= qi
                elif kj < L:
                    bq = blk_of[pos[qi - L]]
                    want = kj < min(p for p in range(L) if blk_of[p] == bq)
                else:
                    want = kj <= qi and blk_of[pos[kj - L]] == blk_of[pos[qi - L]]
                self.assertEqual(got, want, (b, qi, kj))

    def test_rules_hold_on_random_batches(self):
        gen = torch.Generator().manual_seed(3)
        B, L, block, mask_id = 3, 40, 8, 99
        ids = torch.randint(0, 90, (B, L), generator=gen)
        lab = torch.zeros(B, L, dtype=torch.bool)
        lab[:, 12:] = True
        lab[1, 30:] = False
        ds = build_dual_stream(ids, lab, block, mask_id, gen)
        for b in range(B):
            self.check_sample(ids, lab, ds, b, L, block, mask_id)

    def test_mask_count_per_block_follows_gamma(self):
        gen = torch.Generator().manual_seed(5)
        B, L, block = 64, 64, 16
        ids = torch.randint(0, 50, (B, L), generator=gen)
        lab = torch.ones(B, L, dtype=torch.bool)
        ds = build_dual_stream(ids, lab, block, 77, gen)
        # every row of a block shares its 1/gamma; masks per block = round(n_block * gamma)
        frac = ds.xt_masked.float().mean().item()
        self.assertGreater(frac, 0.35)
        self.assertLess(frac, 0.65)
        w = ds.xt_weight
        for b in range(8):
            groups = {}
            for r in range(L):
                groups.setdefault(round(w[b, r].item(), 3), []).append(ds.xt_masked[b, r].item())
            for inv_gamma, flags in groups.items():
                gamma = 1.0 / inv_gamma
                self.assertLessEqual(abs(sum(flags) - len(flags) * gamma), 0.5 + 1e-3 * len(flags))


if __name__ == "__main__":
    unittest.main()
