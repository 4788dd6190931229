"""The autoencoder's speed, side by side: ours (`ArtAutoencoder`, written by hand) against diffusers' `AutoencoderKL` built with
the same widths, levels and latent channels (the reference), in one run on this machine's CPU: images/s encoding and decoding
128 px paintings (batch 16) and training images/s on 64 px crops (batch 32, forward and backward).
Run: `.venv/bin/python bench/autoencoder.py [--seconds 5]`. Appends to bench/results/autoencoder.csv (machine, date, commit)
and prints the table bench/README.md shows. Timings count only when nothing else runs on the machine.

`bench/autoencoder.py perceptual [--n 14000] [--epochs 3]`: does the critic's perceptual loss help? Two autoencoders trained
alike (same paintings, seed, schedule, crops and whole-painting batches), one with the perceptual term (weight 0.5, as the
shipped one) and one without, each measured by `what_it_keeps` on 270 held-out paintings (the critic's fidelity per field on
reconstructions, L1, PSNR). Appends to bench/results/autoencoder_perceptual.csv."""
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

PERCEPTUAL = Path(__file__).parent / 'results' / 'autoencoder_perceptual.csv'
KEPT = ('style', 'family', 'genre', 'colour', 'time', 'era')

def perceptual(n: int, epochs: int):
    from artdiff_nb.autoencoder import train_autoencoder, what_it_keeps
    rows = []
    for weight in (0.5, 0.0):
        t0 = time.perf_counter()
        ae = train_autoencoder(n=n, epochs=epochs, perceptual=weight, progress=False)
        took, k = time.perf_counter() - t0, what_it_keeps(ae)
        rows.append(dict(perceptual=weight, n=n, epochs=epochs, train_minutes=round(took / 60, 1), **{f: round(k['fidelity'][f], 4) for f in KEPT},
                         l1=round(k['l1'], 4), psnr=round(k['psnr'], 2)))
        print(f"perceptual {weight}: {took / 60:.1f} min; " + ', '.join(f"{f} {100 * k['fidelity'][f]:.1f}" for f in KEPT) + f"; PSNR {k['psnr']:.2f} dB", flush=True)
    stamp = record(PERCEPTUAL, ['machine', 'date', 'commit', 'perceptual', 'n', 'epochs', 'train_minutes', *KEPT, 'l1', 'psnr'], rows)
    print(f"\n{stamp['machine']}, commit {stamp['commit']}; {n} paintings, {epochs} epochs\n")
    print(f"| perceptual weight | train minutes | {' | '.join(KEPT)} | L1 | PSNR dB |\n|---|---|" + '---|' * len(KEPT) + '---|---|')
    for r in rows: print(f"| {r['perceptual']:g} | {r['train_minutes']} | " + ' | '.join(f"{100 * r[f]:.1f}" for f in KEPT) + f" | {r['l1']:.3f} | {r['psnr']:.2f} |")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('what', nargs='?', choices=['speed', 'perceptual'], default='speed')
    ap.add_argument('--seconds', type=float, default=5, help='speed: seconds per measurement')
    ap.add_argument('--n', type=int, default=14_000, help='perceptual: training paintings (default: the shipped recipe)'); ap.add_argument('--epochs', type=int, default=3)
    a = ap.parse_args()
    main(a.seconds) if a.what == 'speed' else perceptual(a.n, a.epochs)
