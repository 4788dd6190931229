"""The GPU check: one command that, on a GPU machine, measures what the wikiart-128 model costs and whether the data engine
keeps up, in under 10 minutes.

- `python bench/gpu.py estimate` (any machine, a CPU is enough): parameters, GFLOP per image (forward + backward), and the
  activation memory one image keeps for the backward pass at 128 px, counted tensor by tensor (fp32 and bf16 autocast);
  from them, the memory per batch size and the images/s one H100 would reach at 40% of its bf16 peak. Estimates, said so.
- `python bench/gpu.py` (a CUDA GPU): images/s and peak memory for bf16 / fp16 / fp32 x compile off/on x batch 64/128 on
  synthetic batches; the same step fed by the data engine from prepared shards at 128 px (is the GPU waiting?); two-GPU
  scaling when there are two; and 300 steps of the wikiart-128 preset on procedural art at 128 px, with its sample grid.
  Cases run in order of need, each recorded as it ends; none starts after `--budget` seconds, so a short lease still
  leaves its first answers. A setting that runs out of memory is recorded as such.

Results go to bench/results/gpu.csv (machine, date, commit); the markdown table is printed for bench/README.md and the GPU page."""
import argparse, csv, os, subprocess, sys, tempfile, time
from pathlib import Path

import torch

from artdiff_nb.config import load_preset
from artdiff_nb.pipeline import make_model
from artdiff_nb.unet import n_params, train_gflop_per_image
from data import commit, machine, record as _record       # bench/data.py: one results writer, stamped alike

RESULTS = Path(__file__).parent / 'results' / 'gpu.csv'
FIELDS = ('machine', 'date', 'commit', 'case', 'precision', 'compile', 'batch', 'images_per_s', 'peak_gb', 'note')
H100_BF16_TFLOPS, MFU = 989, 0.4
VOCAB = 4000

def record(rows: list[dict]) -> None: _record(RESULTS, FIELDS, rows)

def batch(cfg, n: int, device):
    x = torch.randn(n, 3, cfg.unet.image_size, cfg.unet.image_size, device=device)
    return x, torch.randint(0, 1000, (n,), device=device), torch.randint(3, VOCAB, (n, 16), device=device)

def saved_bytes_per_image(model, cfg, dtype, n: int = 2) -> float:
    "Bytes of tensors the autograd graph keeps for the backward pass, per image (each storage counted once)."
    seen, total = set(), [0]
    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key not in seen: seen.add(key); total[0] += key[1]
        return t
    x, t, ids = batch(cfg, n, 'cpu')
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.autocast('cpu', dtype=dtype, enabled=dtype != torch.float32):
        loss = model(x, t, ids).float().square().mean()
    loss.backward(); model.zero_grad(set_to_none=True)
    return total[0] / n

def estimate():
    cfg = load_preset('wikiart-128')
    model = make_model(cfg, VOCAB)
    p = n_params(model)
    gflop = train_gflop_per_image(model, cfg.unet.image_size)
    fixed = p * (4 + 4 + 8)                            # fp32 weights, gradients, AdamW's two moments
    rows = []
    for name, dt in (('fp32', torch.float32), ('bf16 autocast', torch.bfloat16)):
        act = saved_bytes_per_image(model, cfg, dt)
        for bs in (64, 128, 256):
            rows.append(dict(case='estimate: memory for training', precision=name, compile='off', batch=bs,
                             peak_gb=round((fixed + act * bs) / 1e9, 1), note=f"{act / 1e6:.0f} MB of activations per image"))
    h100 = H100_BF16_TFLOPS * 1e12 * MFU / (gflop * 1e9)
    rows.append(dict(case='estimate: H100 images/s at 40% of bf16 peak', precision='bf16', batch=128, images_per_s=round(h100),
                     note=f"{p / 1e6:.0f} M parameters, {gflop:.0f} GFLOP per image forward + backward"))
    return rows

def trainer(cfg, precision: str, compiled: bool, bs: int):
    "A function `(feed, steps) -> (images/s, peak GB)` that times training steps of one model on the GPU, built once."
    from artdiff_nb.learner import autocast_dtype
    dev = torch.device('cuda')
    model = make_model(cfg, VOCAB).to(dev).to(memory_format=torch.channels_last)
    if compiled: model.unet.compile()
    opt = torch.optim.AdamW(model.parameters(), 1e-4, fused=True)
    dt = autocast_dtype(precision, dev)
    scaler = torch.amp.GradScaler('cuda', enabled=dt == torch.float16)
    fixed = batch(cfg, bs, dev)
    def one(feed):
        x, t, ids = (b.to(dev, non_blocking=True) for b in next(feed)) if feed is not None else fixed
        with torch.autocast('cuda', dtype=dt or torch.float32, enabled=dt is not None):
            loss = model(x, t, ids).float().square().mean()
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update(); opt.zero_grad(set_to_none=True)
    def rate(feed=None, steps: int = 30) -> tuple[float, float]:
        torch.cuda.reset_peak_memory_stats()
        for _ in range(5): one(feed)                       # compile, cudnn autotune, the feed's workers start
        torch.cuda.synchronize(); t0 = time.perf_counter()
        for _ in range(steps): one(feed)
        torch.cuda.synchronize()
        return steps * bs / (time.perf_counter() - t0), torch.cuda.max_memory_allocated() / 1e9
    return rate

def shards(n: int = 384) -> Path:
    "WikiArt-shaped rows (long side 1,200-1,400 px, JPEG) prepared once into 128 px shards, as `artdiff prepare` writes them."
    from artdiff_nb.prepare import prepare, wikiart_like
    d = Path(tempfile.mkdtemp())
    prepare(str(wikiart_like(d / 'raw', n=n, files=4, corrupt=(), long_side=(1200, 1400))), d / 'p', size=128, progress=False)
    return d / 'p'

def data_feed(path: Path, bs: int, workers: int):
    "Batches `(images, t, ids)` from prepared shards at 128 px, decoded by the training stream's `workers` processes."
    from artdiff_nb.sources import ParquetSource
    from artdiff_nb.captions import CaptionTokenizer
    from artdiff_nb.data import BatchStream
    tok = CaptionTokenizer.from_captions(list(ParquetSource(path, 128).captions()))
    s = BatchStream(ParquetSource(path, 128, shuffle=True), tok, bs, workers=workers)
    try:
        while True:
            x, ids = next(s)
            yield x, torch.randint(0, 1000, (len(x),)), ids.clamp(max=VOCAB - 1)
    finally: s.close()

def measured(precision: str, compiled: bool, bs: int, cfg, feeds: dict = {}) -> list[dict]:
    """Rows for one setting: its step on synthetic batches, then the same model fed by each of `feeds` (name: a function
    making the feed), or what stopped it (out of memory is an answer, not a failure)."""
    import gc
    rows, rate = [], None
    for name, make in {'synthetic batches': None, **feeds}.items():
        row, feed = dict(case=f'training step, {name}', precision=precision, compile='on' if compiled else 'off', batch=bs), None
        try:
            rate = rate or trainer(cfg, precision, compiled, bs)
            feed = make and make()
            r, peak = rate(feed)
            row.update(images_per_s=round(r), peak_gb=round(peak, 1))
        except torch.OutOfMemoryError: row['note'] = f"out of memory ({torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB)"
        except Exception as e: row['note'] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        finally:
            if feed is not None: feed.close()
        rows.append(row)
        if 'images_per_s' not in row: break                # a setting that does not fit is not fed
    del rate; gc.collect(); torch.cuda.empty_cache()
    if compiled: torch._dynamo.reset()
    return rows

def gpu(quick: bool, budget: float, work: Path):
    """The settings in order of what a GPU user needs first, each recorded as it ends, none started after `budget`
    seconds: the preset's own (bf16, compiled, batch 128) on synthetic batches and then fed from prepared shards by 2, 4
    and every core's decode workers (is the GPU waiting?); the same without compile and the other precisions; two GPUs
    when there are two; `artdiff train`; then the rest."""
    cfg, t0, rows = load_preset('wikiart-128'), time.perf_counter(), []
    prepared = []                                          # the shards, written once, when first read
    def fed(w):
        def make():
            if not prepared: prepared.append(shards())
            return data_feed(prepared[0], 128, w)
        return make
    feeds = {f'fed from prepared shards, {w} decode workers': fed(w) for w in (2, 4, os.cpu_count())}
    synth = lambda p, c, b, f={}: lambda: measured(p, c, b, cfg, f)
    cases = [synth('bf16-mixed', True, 128, {} if quick else feeds), synth('bf16-mixed', False, 128), synth('bf16-mixed', False, 64),
             synth('16-mixed', False, 64), synth('32-true', False, 64)]
    if not quick:
        if torch.cuda.device_count() >= 2: cases.append(lambda: [train_run(2, 100, work)])
        cases += [lambda: [train_run(1, 300, work)], synth('16-mixed', True, 128), synth('bf16-mixed', True, 64),
                  synth('32-true', True, 64), synth('16-mixed', False, 128), synth('32-true', False, 128)]
    for i, case in enumerate(cases):
        if time.perf_counter() - t0 > budget: print(f"budget of {budget:.0f} s spent: {len(cases) - i} setting(s) left", flush=True); break
        new = case(); rows += new; record(new)
        for r in new: print(r, flush=True)
    return rows

def train_run(devices: int, steps: int, work: Path) -> dict:
    "The wikiart-128 preset on procedural art at 128 px through `artdiff train`: images/s from its log, and its sample grid."
    out = work / f'wikiart-128-procart-{devices}gpu'
    sets = [f'{f}.input_info.input_source=procart' for f in ('inputs_image', 'inputs_caption')] + ['output_image.output_info.output_source=procart',
            'globals.evaluation_checkpoint.checkpoint_interval=100', f'globals.evaluation_checkpoint.sample_interval={steps}',
            'globals.basic_experiment.valid_size=256', 'globals.evaluation_checkpoint.critic=procart']     # procedural art: the painter's critic
    args = [sys.executable, '-m', 'artdiff_nb.cli', 'train', '--preset', 'wikiart-128', '--output-folder', str(out),
            '--max-steps', str(steps), '--devices', str(devices)] + [a for s in sets for a in ('--set', s)]
    t0 = time.perf_counter(); r = subprocess.run(args, capture_output=True, text=True)
    log = list(csv.DictReader(open(out / 'training_log.csv'))) if (out / 'training_log.csv').exists() else []
    ips = [float(x['images_per_s']) for x in log if x.get('images_per_s')]
    return dict(case=f'artdiff train wikiart-128 on procart, {steps} steps, {devices} GPU(s)', precision='auto', compile='on', batch=128,
                images_per_s=round(sorted(ips)[len(ips) // 2]) if ips else '',
                note=f"exit {r.returncode}, {time.perf_counter() - t0:.0f} s" + ('' if r.returncode == 0 else ': ' + r.stderr[-300:].replace('\n', ' ')))

def table(rows):
    print('| case | precision | compile | batch | images/s | peak GB | note |\n|---|---|---|---|---|---|---|')
    for r in rows: print(f"| {r['case']} | {r.get('precision', '')} | {r.get('compile', '')} | {r.get('batch', '')} | {r.get('images_per_s', '')} | {r.get('peak_gb', '')} | {r.get('note', '')} |")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('mode', nargs='?', choices=('gpu', 'estimate'), default='gpu' if torch.cuda.is_available() else 'estimate')
    ap.add_argument('--quick', action='store_true', help='gpu: the settings on synthetic batches only (no data feed, no artdiff train)')
    ap.add_argument('--budget', type=float, default=480, help='gpu: start no case after this many seconds')
    ap.add_argument('--work', type=Path, help='gpu: where `artdiff train` writes its run (default: a temporary folder)')
    a = ap.parse_args()
    if a.mode == 'estimate': rows = estimate(); record(rows)
    else: rows = gpu(a.quick, a.budget, a.work or Path(tempfile.mkdtemp()))
    print(machine(), commit()); table(rows)
