"""Training throughput of our whole step against diffusers' UNet2DConditionModel, in one run, as ratios.

Both sides train the same thing: the same caption encoder (the CPU preset's), the same batch of 32x32
images and captions, the same v-prediction loss and AdamW step. Only the denoiser differs:
- reference: diffusers' UNet2DConditionModel with the preset's widths (32, 64, 128), 2 layers per block,
  and cross-attention at the same two lowest levels (CrossAttnDown/UpBlock2D, as diffusers builds them);
- ours: the preset's ConditionalUNet (self-attention only at 8x8, cross-attention at 16x16 and 8x8),
  in fp32, with channels_last, with bf16 autocast, and compiled.
GFLOP per image is counted by torch.utils.flop_counter for each model. Run: `.venv/bin/python bench/train_step.py`.
"""
import argparse, time
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from artdiff_nb.config import load_preset
from artdiff_nb.learner import retain_freed_memory
from artdiff_nb.pipeline import make_model

class DiffusersDenoiser(torch.nn.Module):
    """Our caption `encoder` in front of diffusers' UNet2DConditionModel with `cfg`'s widths, called like CaptionDiffusion
    (`model(x, t, ids)`, and the `encode`/`denoise` pair our samplers use)."""
    def __init__(self, encoder, cfg):
        super().__init__()
        from diffusers import UNet2DConditionModel
        self.encoder = encoder
        self.unet = UNet2DConditionModel(
            sample_size=cfg.unet.image_size, in_channels=3, out_channels=3, block_out_channels=cfg.unet.widths,
            layers_per_block=cfg.unet.blocks_per_level,
            down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'),
            up_block_types=('CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'),
            cross_attention_dim=cfg.encoder.embedding_dim, attention_head_dim=cfg.unet.head_dim, norm_num_groups=8)
    def encode(self, ids, mask=None): return self.encoder(ids, mask)
    def denoise(self, x, t, ctx, mask, pooled): return self.unet(x, t, encoder_hidden_states=ctx, encoder_attention_mask=mask).sample
    def forward(self, x, t, ids, mask=None): return self.denoise(x, t, *self.encode(ids, mask))

def gflop_per_image(model, x, t, ids):
    with FlopCounterMode(display=False) as fc: model(x[:2], t[:2], ids[:2]).square().mean().backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops() / 2 / 1e9

def rate(model, x, t, ids, target, bf16=False, iters=6, warmup=2):
    opt = torch.optim.AdamW(model.parameters(), 1e-4, foreach=True)
    for i in range(warmup + iters):
        if i == warmup: t0 = time.perf_counter()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            loss = F.mse_loss(model(x, t, ids).float(), target)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    return x.shape[0] * iters / (time.perf_counter() - t0)

def main(bs=64, iters=6, compile=True):
    retain_freed_memory()                          # both sides reuse freed memory, as `train` does (bench/allocator.py)
    torch.manual_seed(0)
    cfg = load_preset('procart-cpu')
    ours = make_model(cfg, vocab_size=400)
    ref = DiffusersDenoiser(make_model(cfg, vocab_size=400).encoder, cfg)
    x, t = torch.randn(bs, 3, 32, 32), torch.randint(0, 1000, (bs,))
    ids, target = torch.randint(3, 400, (bs, 16)), torch.randn(bs, 3, 32, 32)
    rows = []
    g_ref, g_ours = gflop_per_image(ref, x, t, ids), gflop_per_image(ours, x, t, ids)
    params = lambda m: sum(p.numel() for p in m.parameters()) / 1e6
    rows.append(('diffusers UNet2DConditionModel, fp32 (reference)', params(ref), g_ref, rate(ref, x, t, ids, target, iters=iters)))
    rows.append(('ours, fp32', params(ours), g_ours, rate(ours, x, t, ids, target, iters=iters)))
    ours.unet.to(memory_format=torch.channels_last); xc = x.contiguous(memory_format=torch.channels_last)
    rows.append(('ours, fp32, channels_last', params(ours), g_ours, rate(ours, xc, t, ids, target, iters=iters)))
    rows.append(('ours, bf16 autocast, channels_last', params(ours), g_ours, rate(ours, xc, t, ids, target, bf16=True, iters=iters)))
    if compile:
        ours.unet.compile()
        rows.append(('ours, fp32, channels_last, torch.compile', params(ours), g_ours, rate(ours, xc, t, ids, target, iters=iters, warmup=3)))
    base = rows[0][3]
    print(f"batch {bs}, 32x32, CPU threads {torch.get_num_threads()}")
    print('| model | params (M) | GFLOP/img (fwd+bwd) | images/s | achieved GFLOP/s | speed vs diffusers |')
    print('|---|---|---|---|---|---|')
    for name, p, g, r in rows: print(f'| {name} | {p:.2f} | {g:.2f} | {r:.1f} | {r * g:.0f} | {r / base:.2f}x |')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--bs', type=int, default=64); ap.add_argument('--iters', type=int, default=6)
    ap.add_argument('--no-compile', action='store_true')
    a = ap.parse_args(); main(a.bs, a.iters, not a.no_compile)
