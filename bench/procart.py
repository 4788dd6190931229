"""Procedural art throughput against a reference, in one run: images/s on one core, per style at 32 px and for the
whole stream (all 27 styles, all genres) at 32 and 64 px.

Reference: decoding a JPEG of the same size with PIL and converting it to a uint8 array, the least
a real dataset on disk costs per image. Run: `.venv/bin/python bench/procart.py [--n 1500]`.
"""
import argparse, io, os, time
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np
from PIL import Image
from artdiff_nb.procart import ProcArt
from artdiff_nb.vocabulary import STYLES, FAMILY

def rate(fn, n):
    fn(min(n, 50))                                   # warm caches
    t = time.perf_counter(); fn(n); return n / (time.perf_counter() - t)

def jpeg_rate(imgs, n):
    jpegs = []
    for im in imgs:
        b = io.BytesIO(); Image.fromarray(im).save(b, 'JPEG', quality=90); jpegs.append(b.getvalue())
    return rate(lambda k: [np.asarray(Image.open(io.BytesIO(jpegs[i % len(jpegs)])).convert('RGB')) for i in range(k)], n)

def main(n=1500):
    per_style = {s: rate(lambda k, s=s: ProcArt(seed=0, size=32, styles=[s]).take(k), n // 3) for s in STYLES}
    print('| style | family | images/s at 32 px |\n|---|---|---|')
    for s, v in sorted(per_style.items(), key=lambda kv: -kv[1]): print(f'| {s} | {FAMILY[s]} | {v:,.0f} |')
    print(f'| **mean over styles** (time per image averaged) | | **{len(STYLES) / sum(1 / v for v in per_style.values()):,.0f}** |\n')
    print('| size | whole stream images/s | JPEG decode images/s (reference) | ratio |\n|---|---|---|---|')
    for size in (32, 64):
        ds = ProcArt(seed=0, size=size)
        ours = rate(lambda k: ds.take(k), n)
        ref = jpeg_rate(ds.take(64)[0], n)
        print(f'| {size} px | {ours:,.0f} | {ref:,.0f} | {ours / ref:.2f} |')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--n', type=int, default=1500); main(ap.parse_args().n)
