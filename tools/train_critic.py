"""Reproduce the art critic shipped in `artdiff_nb/weights/art_critic.safetensors`.

Trains `ArtCritic` on fresh paintings of the painter with `train_critic`'s defaults (seeded: the same weights up to
float rounding), prints its accuracy per field on 2,700 unseen paintings, and writes the weights.
Run: `.venv/bin/python tools/train_critic.py [--out PATH]` (about 7 minutes on two CPU cores).
"""
import argparse, time
from importlib.resources import files
import numpy as np
from artdiff_nb.critic import CRITIC_FILE, train_critic, save_critic, evaluation_paintings
from artdiff_nb.metrics import CaptionFidelity
from artdiff_nb.procart import render

def main(out=None, **kw):
    t = time.perf_counter()
    critic = train_critic(progress=False, **kw)
    print(f"trained in {time.perf_counter() - t:.0f} s")
    ps = evaluation_paintings(2700, seed=424242)
    acc = CaptionFidelity(critic)
    acc.update(np.stack([render(p, 32) for p in ps]), [p.caption for p in ps])
    for k, v in acc.compute().items(): print(f"{k}: {v:.1%}")
    print(f"wrote {save_critic(critic, out or files('artdiff_nb') / CRITIC_FILE)}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--out'); ap.add_argument('--epochs', type=int, default=6)
    ap.add_argument('--n', type=int, default=48_000); a = ap.parse_args()
    main(a.out, epochs=a.epochs, n=a.n)
