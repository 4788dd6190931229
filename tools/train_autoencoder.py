"""Reproduce the autoencoder shipped as `artdiff_nb/weights/procart_ae.safetensors` (the name `procart-ae`).

Trains `ArtAutoencoder` on fresh 128 px paintings of the painter with `train_autoencoder`'s defaults (seeded; no perceptual
term: `--perceptual 0.5` trains the earlier recipe, which keeps less, see bench/README.md), measures what it keeps on 270
held-out paintings (the art critic's fidelity per field on the reconstructions beside the originals, and the reconstruction
error), and writes the weights with those figures and the training time in their metadata.
Run: `.venv/bin/python tools/train_autoencoder.py [--out PATH]`.
"""
import argparse, time
from importlib.resources import files
from artdiff_nb.autoencoder import SHIPPED_AUTOENCODERS, train_autoencoder, save_autoencoder, what_it_keeps

def main(out=None, **kw):
    t = time.perf_counter()
    ae = train_autoencoder(progress=False, **kw)
    minutes = (time.perf_counter() - t) / 60
    print(f"trained in {minutes:.1f} CPU minutes (wall clock, every core)")
    keeps = what_it_keeps(ae)
    for k in keeps['fidelity']: print(f"{k}: {keeps['fidelity'][k]:.1%} on reconstructions, {keeps['ceiling'][k]:.1%} on the originals")
    print(f"L1 {keeps['l1']:.4f}, PSNR {keeps['psnr']:.2f} dB")
    info = dict(train_minutes=round(minutes, 1), settings={k: v for k, v in kw.items()}, **keeps)
    print(f"wrote {save_autoencoder(ae, out or files('artdiff_nb') / SHIPPED_AUTOENCODERS['procart-ae'], info)}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--out'); ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--n', type=int, default=14_000); ap.add_argument('--perceptual', type=float, default=0.0); a = ap.parse_args()
    main(a.out, epochs=a.epochs, n=a.n, perceptual=a.perceptual)
