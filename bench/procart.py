"""Procedural art throughput against a reference, in one run: images/s at 32 and 64 px on one core.

Reference: decoding a JPEG of the same size with PIL and converting it to a uint8 array, the least
a real dataset on disk costs per image. Run: `.venv/bin/python bench/procart.py`.
"""
import io, os, time
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np
from PIL import Image
from artdiff_nb.procart import ProcArt

def rate(fn, n):
    fn(min(n, 50))                                   # warm caches
    t = time.perf_counter(); fn(n); return n / (time.perf_counter() - t)

def main(n=1500):
    rows = []
    for size in (32, 64):
        ds = ProcArt(seed=0, size=size)
        ours = rate(lambda k: ds.take(k), n)
        imgs, _ = ds.take(64)
        jpegs = []
        for im in imgs:
            b = io.BytesIO(); Image.fromarray(im).save(b, 'JPEG', quality=90); jpegs.append(b.getvalue())
        ref = rate(lambda k: [np.asarray(Image.open(io.BytesIO(jpegs[i % 64])).convert('RGB')) for i in range(k)], n)
        rows.append((size, ours, ref))
    print('| size | procart images/s | JPEG decode images/s (reference) | ratio |')
    print('|---|---|---|---|')
    for size, ours, ref in rows: print(f'| {size} px | {ours:,.0f} | {ref:,.0f} | {ours / ref:.2f} |')

if __name__ == '__main__': main()
