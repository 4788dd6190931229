"""The autoencoder's speed, side by side: ours (`ArtAutoencoder`, written by hand) against diffusers' `AutoencoderKL` built with
the same widths, levels and latent channels (the reference), in one run on this machine's CPU: images/s encoding and decoding
128 px paintings (batch 16) and training images/s on 64 px crops (batch 32, forward and backward).
Run: `.venv/bin/python bench/autoencoder.py [--seconds 5]`. Appends to bench/results/autoencoder.csv (machine, date, commit)
and prints the table bench/README.md shows. Timings count only when nothing else runs on the machine."""
import argparse, sys, time
from pathlib import Path

import torch
sys.path.insert(0, str(Path(__file__).parent))
from data import record                                   # noqa: E402  (the same stamp as every benchmark)
from artdiff_nb.autoencoder import ArtAutoencoder, DiffusersAutoencoder, AutoencoderLoss

RESULTS = Path(__file__).parent / 'results' / 'autoencoder.csv'
FIELDS = ('machine', 'date', 'commit', 'model', 'parameters', 'encode_images_per_s', 'decode_images_per_s', 'train_images_per_s', 'ratio_train')
WIDTHS = (32, 64, 64, 64)

def rate(f, n_per_call: int, seconds: float) -> float:
    f(); n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds: f(); n += n_per_call
    return n / (time.perf_counter() - t0)

def measure(ae, seconds: float) -> dict:
    x, crops = torch.rand(16, 3, 128, 128) * 2 - 1, torch.rand(32, 3, 64, 64) * 2 - 1
    z = ae.latents(x)
    with torch.no_grad(): dec = rate(lambda: ae.decode(z), 16, seconds)
    enc = rate(lambda: ae.latents(x), 16, seconds)
    opt, loss = torch.optim.Adam(ae.parameters(), 1e-4), AutoencoderLoss()
    def step():
        mean, logvar = ae.encode(crops)
        l = loss((ae.decode(mean * ae.scale), mean, logvar), crops); l.backward(); opt.step(); opt.zero_grad()
    ae.train(); tr = rate(step, 32, seconds); ae.eval()
    return dict(parameters=sum(p.numel() for p in ae.parameters()), encode_images_per_s=round(enc, 1), decode_images_per_s=round(dec, 1),
                train_images_per_s=round(tr, 1))

def main(seconds: float):
    from diffusers import AutoencoderKL
    torch.manual_seed(0)
    ref = DiffusersAutoencoder(AutoencoderKL(block_out_channels=WIDTHS, down_block_types=('DownEncoderBlock2D',) * 4,
                                             up_block_types=('UpDecoderBlock2D',) * 4, latent_channels=4, layers_per_block=1,
                                             norm_num_groups=8, sample_size=128)).requires_grad_(True)
    rows = [dict(model='diffusers AutoencoderKL, same widths (reference)', **measure(ref, seconds)),
            dict(model='ours: ArtAutoencoder', **measure(ArtAutoencoder(WIDTHS), seconds))]
    for r in rows: r['ratio_train'] = round(r['train_images_per_s'] / rows[0]['train_images_per_s'], 2)
    stamp = record(RESULTS, FIELDS, rows)
    print(f"{stamp['machine']}, commit {stamp['commit']}; widths {WIDTHS}, 4 latent channels, 8x\n")
    print('| model | parameters | encode 128 px images/s | decode images/s | train images/s (64 px crops) | train / reference |\n|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['model']} | {r['parameters']:,} | {r['encode_images_per_s']:.1f} | {r['decode_images_per_s']:.1f} | {r['train_images_per_s']:.1f} | {r['ratio_train']:.2f} |")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--seconds', type=float, default=5); a = ap.parse_args()
    main(a.seconds)
