"""The data engine against PIL's limit: images/s at 32 and 128 px from WikiArt-size JPEGs (1,200-2,000 px on the long side)
and from shards that `artdiff prepare` wrote, on one core and through the training stream's decode workers, beside PIL's
own `draft` + `resize` on one core (the most a decoder of those files can do per core). Ends with how many cores one H100
needs at 128 px, from the wikiart-128 model's FLOP count (an estimate: no GPU has measured it).

Run: `.venv/bin/python bench/data.py [--rows 64] [--seconds 3]`. Appends to bench/results/data.csv (machine, date, commit)
and prints the markdown table that bench/README.md shows. Timings count only when nothing else runs on the machine."""
import argparse, csv, datetime, io, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from artdiff_nb.images import decode_image
from artdiff_nb.sources import ParquetSource
from artdiff_nb.prepare import prepare, wikiart_like
from artdiff_nb.captions import CaptionTokenizer
from artdiff_nb.data import BatchStream

RESULTS = Path(__file__).parent / 'results' / 'data.csv'
FIELDS = ('machine', 'date', 'commit', 'case', 'size', 'cores', 'images_per_s', 'per_core', 'ratio_to_limit', 'note')
H100_BF16_TFLOPS, MFU = 989, 0.4          # dense bf16 peak, and a utilisation a convolutional UNet commonly reaches (assumed)
GFLOP_PER_IMAGE = 651                     # wikiart-128, forward and backward (nbs/53_distributed.ipynb, train_gflop_per_image)

def machine() -> str:
    "The GPU(s) where there are any (`bench/gpu.py`), else the CPU and its cores."
    if torch.cuda.is_available(): return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores"

def commit() -> str:
    "The checkout's commit; `BENCH_COMMIT` names it where the tree travelled without its history (a lent GPU machine)."
    if os.environ.get('BENCH_COMMIT'): return os.environ['BENCH_COMMIT']
    r = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=Path(__file__).parent)
    return r.stdout.strip() or 'unknown'

def record(path: Path, fields, rows) -> dict:
    "Append `rows` to the results file `path` (its header first when new), each stamped with the machine, date and commit."
    stamp = dict(machine=machine(), date=datetime.date.today().isoformat(), commit=commit())
    new = not path.exists()
    with open(path, 'a', newline='') as f:
        w = csv.DictWriter(f, fields)
        if new: w.writeheader()
        for r in rows: w.writerow({**stamp, **r})
    return stamp

def rate(f, items, seconds: float) -> float:
    "Items per second of `f(item)` over `items`, repeated for `seconds`."
    f(items[0]); n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for x in items: f(x)
        n += len(items)
    return n / (time.perf_counter() - t0)

def pil_limit(size):
    def f(data):
        with Image.open(io.BytesIO(data)) as im:
            im.draft('RGB', (size, size)); return np.asarray(im.convert('RGB').resize((size, size), Image.BICUBIC))
    return f

def stream_rate(location, size: int, workers: int, tok, seconds: float, bs: int = 64) -> float:
    "Images/s of the training stream (read, decode in `workers` processes, collate) from `location`."
    s = BatchStream(ParquetSource(location, size, shuffle=True), tok, bs, workers=workers)
    try:
        for _ in range(3): next(s)                                    # workers started, queue filled
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds: n += len(next(s)[0])
        return n / (time.perf_counter() - t0)
    finally: s.close()

def datasets_rate(location, size: int, seconds: float, decode: bool = True) -> tuple[float, float]:
    """Rows/s through Hugging Face `datasets` streaming, shuffled as ours is, once a pass has started (its own `Image` decoding
    at full size, then our fit to `size`), and the seconds a pass takes to give its first row (its shuffle buffer holds every
    row of a set this small, so the read itself is inside that start and cannot be told apart from it here)."""
    import datasets
    from artdiff_nb.images import fit_image
    files = sorted(str(p) for p in Path(location).rglob('*.parquet'))
    ds = datasets.load_dataset('parquet', data_files=files, split='train', streaming=True)
    ds = ds.cast_column('image', datasets.Image(decode=decode)).shuffle(seed=0, buffer_size=1024)
    n, busy, starts, t_end = 0, 0.0, [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or not starts:             # whole passes, for at least `seconds` of wall time
        t0 = time.perf_counter(); it = iter(ds); row = next(it); t1 = time.perf_counter(); starts.append(t1 - t0)
        for row in [row, *it]:
            if decode: fit_image(row['image'], size)
            n += 1
        busy += time.perf_counter() - t1
    return n / busy, float(np.median(starts))

def reader_rate(location, seconds: float) -> float:
    "Rows/s of our reader's stream walk alone (`recipes`: shuffled, captions made, nothing decoded)."
    src, n, t0 = ParquetSource(location, 32, shuffle=True), 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds: n += len(src.recipes(256))
    return n / (time.perf_counter() - t0)

def blobs(location, size: int = 32) -> list[bytes]:
    src = ParquetSource(location, size, loop=False)
    return [w[0] for _, w in src.recipes(src.n_rows)]

def main(rows: int, seconds: float):
    torch.set_num_threads(1)
    cores, rows_out = os.cpu_count() or 1, []
    with tempfile.TemporaryDirectory() as d:
        raw = wikiart_like(Path(d) / 'raw', n=rows, files=4, corrupt=(), rows_per_group=8)
        tok = CaptionTokenizer.from_captions(list(ParquetSource(raw, 32).captions()))
        raw_blobs = blobs(raw)
        for size in (32, 128):
            prepared = Path(d) / f'p{size}'
            prepare(str(raw), prepared, size=size, shards=4, progress=False)
            limit = rate(pil_limit(size), raw_blobs, seconds)
            cases = [('PIL draft + resize, raw JPEG (the limit)', 1, limit),
                     ('decode_image, raw JPEG', 1, rate(lambda b: decode_image(b, size), raw_blobs, seconds)),
                     ('decode_image, prepared shard', 1, rate(lambda b: decode_image(b, size), blobs(prepared, size), seconds)),
                     ('datasets streaming, raw JPEG (its Image decode, then fit)', 1, *datasets_rate(raw, size, seconds))]
            if size == 32:                                             # reading alone does not depend on the size
                cases += [('reader alone, raw rows: ParquetSource.recipes (shuffled, captions made, nothing decoded)', 1, reader_rate(raw, seconds))]
            for w in sorted({1, 2, cores}):
                cases.append((f'training stream, raw, {w} worker(s)', w, stream_rate(raw, size, w, tok, seconds)))
                cases.append((f'training stream, prepared, {w} worker(s)', w, stream_rate(prepared, size, w, tok, seconds)))
            for case, c, r, *start in cases:
                rows_out.append(dict(case=case, size=size, cores=c, images_per_s=round(r, 1), per_core=round(r / c, 1),
                                     ratio_to_limit=round(r / c / limit, 2), note=f"{start[0]:.1f} s to a pass's first row" if start else ''))
    stamp = record(RESULTS, FIELDS, rows_out)
    print(f"{stamp['machine']}, commit {stamp['commit']}\n")
    print('| size | case | cores | images/s | per core | per core / limit | note |\n|---|---|---|---|---|---|---|')
    for r in rows_out:
        print(f"| {r['size']} px | {r['case']} | {r['cores']} | {r['images_per_s']:,.0f} | {r['per_core']:,.0f} | {r['ratio_to_limit']:.2f} | {r['note']} |")
    h100 = H100_BF16_TFLOPS * 1e12 * MFU / (GFLOP_PER_IMAGE * 1e9)
    best = max(r['per_core'] for r in rows_out if r['size'] == 128 and 'training stream, prepared' in r['case'])
    raw1 = max(r['per_core'] for r in rows_out if r['size'] == 128 and 'training stream, raw' in r['case'])
    print(f"\nOne H100 training wikiart-128 eats about {h100:,.0f} images/s (estimate: {H100_BF16_TFLOPS} TFLOPS bf16 x {MFU:.0%} "
          f"utilisation / {GFLOP_PER_IMAGE} GFLOP per image): {h100 / best:.1f} cores of prepared shards "
          f"({best:,.0f} images/s per core), or {h100 / raw1:.1f} cores decoding raw JPEGs ({raw1:,.0f} per core).")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rows', type=int, default=64, help='WikiArt-size paintings to make (default: %(default)s)')
    ap.add_argument('--seconds', type=float, default=3.0, help='seconds per measurement (default: %(default)s)')
    a = ap.parse_args()
    main(a.rows, a.seconds)
