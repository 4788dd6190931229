"""The recipe study: which training choices buy caption fidelity per CPU-minute, each measured the same way.

The study is data: `VARIANTS_TABLE` lists every variant as one change on a named base (`BASES`: the CPU preset as it was
before the study, `base()`, then each round's base, the one before with what that round adopted), and one loop
(`marked_scores`) trains a variant, keeps its EMA weights at the marks and scores each. The first two rounds measured in two phases:

1. `rates`: each distinct model shape and batch size trains 32 steps (`artdiff_nb.train.train`, as `artdiff train`
   does) and its images/s is read off the log (the median of 15 readings). Timings: run this phase with nothing else running.
2. `quality`: each variant trains for the steps its rate buys in `--minutes` of training on this machine (the cosine
   schedule sized to the run, as `make demo` sizes it) and the EMA weights are kept at every mark; each copy is then
   evaluated with `artdiff_nb.metrics.evaluate` (caption fidelity per field, FD-critic) on the same held-out captions
   with the preset's sampler. This phase counts steps, not seconds, so it may share the machine: two variants at
   `--threads 1` side by side finish sooner than one after the other at two threads (1 thread runs at 0.67x of 2).

Levers that change speed but not what a step learns (bf16, torch.compile, threads) need phase 1 only: `speed [--variants A ...]`
(default: the base, `preset`).

The third round (`w16 ...`, on the base `round 3`) counts steps instead of minutes, so that its rows hold
on any machine: `steps [--variants A ...] [--steps 450 900] [--n 270] [--threads 1] [--seed S]` trains each variant for the
marks and evaluates its EMA weights at each (results in bench/results/recipe_steps.csv, `steps-table` prints them). Variants
of one speed compare at equal steps; the others at the steps their rates buy in the same minutes (`rates`, today).
The fourth round is the same on the third's preset: no position embeddings (`nopos`), then half-size images
first (`nopos 16px for 600 of 1310`, run with `--steps 1310`: 600 steps at a third of the cost and 710 full-size ones
take the time of 900 full-size steps; `... 1215 of 1736` with `--steps 1736`). The fifth round (the same day) tries smaller
half-size shares at the same cost: `nopos 16px for 338 of 1125` (30%, `--steps 1125`) and `... 208 of 1038` (20%, `--steps 1038`).
The sixth round tries, on the fifth's preset, the loss weighting (`plain-mse`, `min-snr2`) and the learning rate (`lr1.5e-3`,
`lr2.5e-3`); `cost --variants A B ...` times a step of each against the first at full and at half size (bare steps,
alternated), which is how `w24-32-64` and `xattn012` were found too slow to try at equal cost.

Run: `.venv/bin/python bench/recipe_study.py rates` (on a later day `rates --variants NEW --reference OLD`: a ratio to a
shape already measured, as the machine's speed drifts), then `quality [--variants A B ...] [--minutes 2.5 5] [--n 108]`,
then `table`; `quality --seed 1` repeats a run with other weights, noise and stream. Results accumulate in bench/results/recipe_*.json / .csv (a variant already measured is skipped).
"""
import argparse, copy, csv, json, tempfile, time
from pathlib import Path

import numpy as np
import torch
from fastai.callback.core import Callback, CancelFitException

from artdiff_nb.callbacks import EMACallback, global_step
from artdiff_nb.captions import CaptionTokenizer
from artdiff_nb.config import load_preset
from artdiff_nb.critic import SCORED
from artdiff_nb.metrics import evaluate
from artdiff_nb.runfolder import read_log
from artdiff_nb.pipeline import ArtDiffPipeline
from artdiff_nb.train import train

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'bench' / 'results'
RATES, QUALITY, STEPS = RESULTS / 'recipe_rates.json', RESULTS / 'recipe_study.csv', RESULTS / 'recipe_steps.csv'

def merged(base: dict, *changes: dict) -> dict:
    "`base` (component -> fields) with each of `changes` merged in, in order."
    out = base
    for c in changes: out = {k: {**out.get(k, {}), **c.get(k, {})} for k in out.keys() | c.keys()}
    return out

# The bases, each the one before it with what its round adopted (components as dicts of their fields), on `base()`.
BASES = {'study': {}}
BASES['round 2'] = merged(BASES['study'], {'unet': {'blocks_per_level': 1}, 'optim': {'timestep_sampling': 'logit_normal'}})
BASES['round 3'] = merged(BASES['round 2'], {'unet': {'widths': (16, 32, 64)}})
BASES['round 4'] = merged(BASES['round 3'], {'encoder': {'num_layers': 0}, 'optim': {'lr': 2e-3}})
BASES['round 6'] = merged(BASES['round 4'], {'optim': {'low_res_fraction': 338 / 1125}, 'encoder': {'position': 'none'}})   # the preset since

# The study as data: every variant is one change on a named base (the name is what its rows in the results files say).
# Runs counted in steps were run for the `--steps` noted.
VARIANTS_TABLE = [
    # the first round (minutes): shapes, batch sizes, timestep sampling and the loss, on the study's base
    ('preset', 'study', {}),
    ('bs32', 'study', {'data': {'batch_size': 32}}),
    ('bs16', 'study', {'data': {'batch_size': 16}}),
    ('bs16 lr2e-3', 'study', {'data': {'batch_size': 16}, 'optim': {'lr': 2e-3}}),
    ('bs16 lr3e-3', 'study', {'data': {'batch_size': 16}, 'optim': {'lr': 3e-3}}),
    ('bs32 lr2e-3', 'study', {'data': {'batch_size': 32}, 'optim': {'lr': 2e-3}}),
    ('bs16 lr5e-4', 'study', {'data': {'batch_size': 16}, 'optim': {'lr': 5e-4}}),
    ('bs16 warmup25', 'study', {'data': {'batch_size': 16}, 'optim': {'warmup_steps': 25}}),
    ('bs16 bpl1', 'study', {'data': {'batch_size': 16}, 'unet': {'blocks_per_level': 1}}),
    ('bs16 xattn8', 'study', {'data': {'batch_size': 16}, 'unet': {'cross_attn_levels': (2,)}}),
    ('bpl1', 'study', {'unet': {'blocks_per_level': 1}}),
    ('bpl1 xattn8', 'study', {'unet': {'blocks_per_level': 1, 'cross_attn_levels': (2,)}}),
    ('bs32 bpl1 xattn8', 'study', {'data': {'batch_size': 32}, 'unet': {'blocks_per_level': 1, 'cross_attn_levels': (2,)}}),
    ('bpl1 w24', 'study', {'unet': {'blocks_per_level': 1, 'widths': (24, 48, 96)}}),
    ('bpl1 lr2e-3', 'study', {'unet': {'blocks_per_level': 1}, 'optim': {'lr': 2e-3}}),
    ('bpl1 logit-normal', 'study', {'unet': {'blocks_per_level': 1}, 'optim': {'timestep_sampling': 'logit_normal'}}),
    ('bpl1 plain-mse', 'study', {'unet': {'blocks_per_level': 1}, 'optim': {'min_snr_gamma': None}}),
    ('bpl1 epsilon', 'study', {'unet': {'blocks_per_level': 1}, 'schedule': {'prediction_type': 'epsilon'}}),
    ('bpl1 ema0.99', 'study', {'unet': {'blocks_per_level': 1}, 'optim': {'ema_decay': 0.99}}),
    ('bpl1 capdrop0.2', 'study', {'unet': {'blocks_per_level': 1}, 'optim': {'caption_dropout': 0.2}}),
    ('bpl1 warmup25', 'study', {'unet': {'blocks_per_level': 1}, 'optim': {'warmup_steps': 25}}),
    ('bs16 ema0.99', 'study', {'data': {'batch_size': 16}, 'optim': {'ema_decay': 0.99}}),
    ('bs16 ema0.9', 'study', {'data': {'batch_size': 16}, 'optim': {'ema_decay': 0.9}}),
    ('bs16 plain-mse', 'study', {'data': {'batch_size': 16}, 'optim': {'min_snr_gamma': None}}),
    ('bs16 epsilon', 'study', {'data': {'batch_size': 16}, 'schedule': {'prediction_type': 'epsilon'}}),
    ('bs16 capdrop0.2', 'study', {'data': {'batch_size': 16}, 'optim': {'caption_dropout': 0.2}}),
    ('bs16 logit-normal', 'study', {'data': {'batch_size': 16}, 'optim': {'timestep_sampling': 'logit_normal'}}),
    ('bs16 bpl1 logit-normal', 'study', {'data': {'batch_size': 16}, 'unet': {'blocks_per_level': 1}, 'optim': {'timestep_sampling': 'logit_normal'}}),
    ('bpl1 48px', 'study', {'unet': {'blocks_per_level': 1, 'image_size': 48}}),
    # the second round (minutes): one lever each on the first round's winners
    ('bpl1 ln warmup25', 'round 2', {'optim': {'warmup_steps': 25}}),
    ('bpl1 ln plain-mse', 'round 2', {'optim': {'min_snr_gamma': None}}),
    ('bpl1 ln epsilon', 'round 2', {'schedule': {'prediction_type': 'epsilon'}}),
    ('bpl1 ln capdrop0.2', 'round 2', {'optim': {'caption_dropout': 0.2}}),
    ('bpl1 ln xattn8', 'round 2', {'unet': {'cross_attn_levels': (2,)}}),
    ('bpl1 w24 logit-normal', 'round 2', {'unet': {'widths': (24, 48, 96)}}),
    ('bpl1 w16 logit-normal', 'round 2', {'unet': {'widths': (16, 32, 64)}}),
    ('bpl1 w12 logit-normal', 'round 2', {'unet': {'widths': (12, 24, 48)}}),
    # the third round (steps 450 and 900): one lever each on the second round's 16/32/64 preset
    ('w16', 'round 3', {}),
    ('w16 plain-mse uniform', 'round 3', {'optim': {'min_snr_gamma': None, 'timestep_sampling': 'uniform'}}),
    ('w16 4 levels', 'round 3', {'unet': {'widths': (16, 32, 64, 128), 'attn_levels': (3,), 'cross_attn_levels': (1, 2, 3)}}),
    ('w16 enc0', 'round 3', {'encoder': {'num_layers': 0}}),
    ('w16 enc0 w24', 'round 3', {'encoder': {'num_layers': 0}, 'unet': {'widths': (24, 48, 96)}}),
    ('w16 enc0 lr3e-3', 'round 3', {'encoder': {'num_layers': 0}, 'optim': {'lr': 3e-3}}),
    ('w16 enc0 lr4e-3', 'round 3', {'encoder': {'num_layers': 0}, 'optim': {'lr': 4e-3}}),
    # on the third round's winner: the encoder without layers at lr 2e-3
    ('w16 enc0 lr2e-3', 'round 4', {}),
    ('w16 enc0 lr2e-3 warmup50', 'round 4', {'optim': {'warmup_steps': 50}}),
    ('w16 enc0 lr2e-3 dim256', 'round 4', {'encoder': {'embedding_dim': 256}}),
    ('w16 enc0 lr2e-3 xattn8', 'round 4', {'unet': {'cross_attn_levels': (2,)}}),
    ('w16 enc0 bs32 lr2e-3', 'round 4', {'data': {'batch_size': 32}}),
    ('w16 enc0 bs32 lr1.4e-3', 'round 4', {'optim': {'lr': 1.4e-3}, 'data': {'batch_size': 32}}),
    ('w16 enc0 lr2e-3 one-cycle', 'round 4', {'optim': {'lr_schedule': 'one_cycle'}}),
    ('w16 enc0 lr2e-3 w24', 'round 4', {'unet': {'widths': (24, 48, 96)}}),
    ('w16 enc0 lr2e-3 warmup200', 'round 4', {'optim': {'warmup_steps': 200}}),
    ('w16 enc0 lr2e-3 capdrop0.05', 'round 4', {'optim': {'caption_dropout': 0.05}}),
    ('w16 enc0 lr2e-3 w96', 'round 4', {'unet': {'widths': (16, 32, 96)}}),             # a wider 8x8 level only
    ('w16 enc0 lr2e-3 fd0', 'round 4', {'data': {'field_dropout': 0.0}}),               # every caption whole
    ('w16 enc0 lr2e-3 clip0', 'round 4', {'optim': {'gradient_clipping': 0.0}}),         # no gradient clipping
    ('w16 enc0 lr2e-3 fd0.2', 'round 4', {'data': {'field_dropout': 0.2}}),
    # the fourth round (steps): no positions, then half-size images first (run with --steps 1310 and 1736)
    ('w16 enc0 lr2e-3 nopos', 'round 4', {'encoder': {'position': 'none'}}),
    ('w16 enc0 lr2e-3 nopos 16px for 600 of 1310', 'round 4', {'encoder': {'position': 'none'}, 'optim': {'low_res_fraction': 600 / 1310}}),
    ('w16 enc0 lr2e-3 nopos 16px for 1215 of 1736', 'round 4', {'encoder': {'position': 'none'}, 'optim': {'low_res_fraction': 1215 / 1736}}),
    # the fifth round (steps): smaller half-size shares at the cost of 900 full-size steps (--steps 1125 and 1038)
    ('w16 enc0 lr2e-3 nopos 16px for 338 of 1125', 'round 6', {}),
    ('w16 enc0 lr2e-3 nopos 16px for 208 of 1038', 'round 4', {'encoder': {'position': 'none'}, 'optim': {'low_res_fraction': 208 / 1038}}),
    # the sixth round (steps, --steps 1125): on the fifth's winner, what might lift style
    ('w16 enc0 lr2e-3 nopos 16px for 338 of 1125 plain-mse', 'round 6', {'optim': {'min_snr_gamma': None}}),
    ('w16 enc0 lr2e-3 nopos 16px for 338 of 1125 min-snr2', 'round 6', {'optim': {'min_snr_gamma': 2.0}}),
    ('w16 enc0 lr1.5e-3 nopos 16px for 338 of 1125', 'round 6', {'optim': {'lr': 1.5e-3}}),
    ('w16 enc0 lr2.5e-3 nopos 16px for 338 of 1125', 'round 6', {'optim': {'lr': 2.5e-3}}),
    ('w16 enc0 lr2e-3 nopos 16px for 338 of 1125 w24-32-64', 'round 6', {'unet': {'widths': (24, 32, 64)}}),
    ('w16 enc0 lr2e-3 nopos 16px for 338 of 1125 xattn012', 'round 6', {'unet': {'cross_attn_levels': (0, 1, 2)}}),
]
VARIANTS = {name: merged(BASES[b], change) for name, b, change in VARIANTS_TABLE}   # name -> settings changed from `base()`
SHAPE_KEYS = ('unet', 'encoder', 'precision', 'channels_last', 'compile_model')

def base():
    """What every variant changes: the CPU preset as it stood before the study (two UNet blocks per level of 32/64/128, uniform
    timesteps, a two-layer caption transformer, learning rate 1e-3). Every setting the study has moved is pinned here, so a
    variant stays the config it was measured with when the preset moves on."""
    return load_preset('procart-cpu').replace(unet={'blocks_per_level': 2, 'widths': (32, 64, 128)}, encoder={'num_layers': 2},
                                              optim={'timestep_sampling': 'uniform', 'lr': 1e-3})

def config(name: str):
    "The variant's TrainConfig: the study's base without sample grids or metrics during training."
    return base().replace(n_sample_captions=0, n_metric_captions=0).replace(**copy.deepcopy(VARIANTS[name]))

def shape_key(cfg) -> str:
    "What decides a variant's speed: the model, the precision and the batch size."
    d = cfg.to_dict()
    return json.dumps({k: d[k] for k in SHAPE_KEYS} | {'batch_size': cfg.data.batch_size}, sort_keys=True)

def measure_rate(cfg, folder: Path, steps: int = 32) -> float:
    "Images/s of `cfg` trained as `artdiff train` trains it, median over the log after two warm-up rows."
    run = train(cfg.replace(output_folder=str(folder), checkpoint_interval=steps, log_interval=2), max_steps=steps, progress=False)
    return float(np.median([r['images_per_s'] for r in read_log(run / 'training_log.csv')[2:] if r.get('images_per_s')]))

def load_json(p: Path) -> dict: return json.loads(p.read_text()) if p.exists() else {}

def rates(names, repeat: int = 1, reference: str | None = None):
    """Measure each distinct shape `repeat` more times; every measurement is kept, and `rate` is their mean.
    With `reference` (a variant already measured), the reference is measured beside the others and each new reading is
    stored as today's ratio to it times its stored rate: the machine's speed drifts from day to day, ratios do not."""
    known, fresh = load_json(RATES), {}
    if reference and shape_key(config(reference)) not in known: raise SystemExit(f"{reference}: no rate measured yet to refer to")
    names = list(dict.fromkeys(names + ([reference] if reference else [])))
    with tempfile.TemporaryDirectory() as d:
        keys = list(dict.fromkeys(shape_key(config(n)) for n in names))
        for r in range(repeat):
            for key in (keys if r % 2 == 0 else keys[::-1]):                 # alternate the order: drift falls on every shape alike
                name = next(n for n in names if shape_key(config(n)) == key)
                fresh.setdefault(key, []).append(measure_rate(config(name), Path(d) / f"r{r}-{keys.index(key)}"))
                print(f"{name}: {fresh[key][-1]:.1f} images/s ({torch.get_num_threads()} threads)", flush=True)
    ref = shape_key(config(reference)) if reference else None
    scale = rate_of(known, ref) / float(np.mean(fresh[ref])) if ref else 1.
    for key, got in fresh.items():
        if key != ref: known.setdefault(key, []).extend(round(x * scale, 2) for x in got)
    if ref: print(f"{reference}: {float(np.mean(fresh[ref])):.1f} images/s today against {rate_of(known, ref):.1f} stored: "
                  f"the others' readings are scaled by {scale:.3f}", flush=True)
    for name in names: print(f"{name}: {rate_of(known, shape_key(config(name))):.1f} images/s", flush=True)
    RATES.write_text(json.dumps(known, indent=1))

def rate_of(known: dict, key: str) -> float: return float(np.mean(known[key]))

class StepMarks(Callback):
    "Keep a CPU copy of the EMA weights at each of `marks` (global steps)."
    order = 90
    def __init__(self, marks): self.marks, self.kept = sorted(marks), []
    def after_batch(self):
        if not self.training or global_step(self) not in self.marks: return
        ema = next(c for c in self.learn.cbs if isinstance(c, EMACallback)).ema_model
        self.kept.append((global_step(self), copy.deepcopy(ema).cpu().eval()))
        if global_step(self) == self.marks[-1]: raise CancelFitException()

def marked_scores(name: str, cfg, marks, n: int):
    """The study's one loop: train `cfg` to the last of `marks` (steps; the cosine schedule sized to it), keep its EMA weights at
    each mark, evaluate each copy on `n` held-out captions. Yields (step, the row's scores, seconds of training)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        cb = StepMarks(marks)
        run = train(cfg.replace(output_folder=str(Path(d) / 'run'), checkpoint_interval=max(marks)), max_steps=max(marks), progress=False, cbs=[cb])
        tok, trained = CaptionTokenizer.load(run / 'tokenizer.json'), time.perf_counter() - t0
        for step, model in cb.kept:
            r = evaluate(ArtDiffPipeline(model, tok, cfg, step=step, name=name), n=n, progress=False)
            scores = {k: round(r['fidelity'][k], 4) for k in SCORED}
            yield step, dict(scores, mean=round(float(np.mean(list(scores.values()))), 4), fd_critic=round(r['fd_critic'], 2), n=n), round(trained)

def report(name: str, seed: int, where: str, row: dict):
    print(f"{name} (seed {seed}) at {where}: " + ', '.join(f"{k} {row[k]:.0%}" for k in SCORED) +
          f" | mean {row['mean']:.1%} | FD-critic {row['fd_critic']:.1f}", flush=True)

def quality(names, minutes, n, seed: int = 0):
    "Train each variant for the steps its rate buys in each of `minutes`, evaluate its EMA weights at each mark; `seed` repeats a run."
    known = load_json(RATES)
    done = {(r['variant'], float(r['minutes']), int(r['seed'])) for r in read_rows()}
    for name in names:
        if all((name, float(m), seed) in done for m in minutes): continue
        cfg = config(name).replace(seed=seed, data={'seed': seed})     # the weights' init, the noise and the painter's stream
        if shape_key(cfg) not in known: raise SystemExit(f"{name}: no rate measured yet; run `rates` first")
        rate, bs = rate_of(known, shape_key(cfg)), cfg.data.batch_size
        marks = {m: max(1, round(m * 60 * rate / bs)) for m in minutes}
        minutes_at = {step: m for m, step in marks.items()}
        for step, scores, trained in marked_scores(name, cfg, marks.values(), n):
            row = dict(variant=name, seed=seed, minutes=minutes_at[step], step=step, batch_size=bs, images=step * bs, rate_img_s=round(rate, 1),
                       **scores, wall_s=trained)
            write_row(row); report(name, seed, f"{minutes_at[step]:g} min (step {step})", row)

FIELDS = ['machine', 'date', 'commit', 'variant', 'seed', 'minutes', 'step', 'batch_size', 'images', 'rate_img_s', *SCORED, 'mean', 'fd_critic', 'n', 'wall_s']
STEP_FIELDS = ['machine', 'date', 'commit', 'variant', 'seed', 'step', 'batch_size', 'images', 'threads', *SCORED, 'mean', 'fd_critic', 'n', 'wall_s']

def read_rows(path: Path = QUALITY) -> list[dict]:
    if not path.exists(): return []
    with open(path, newline='') as f: return list(csv.DictReader(f))

def write_row(row: dict, path: Path = QUALITY, fields: list = FIELDS) -> None:
    "Append `row` to the results file `path`, stamped with the machine, the date and the commit."
    from data import record                                      # bench/data.py: one results writer
    record(path, fields, [row])

def steps(names, marks, n, seed: int = 0):
    """Train each variant for `marks` steps (the cosine schedule sized to the last), evaluate its EMA weights at each mark.
    Counted in steps, not minutes: compare variants of one speed at equal steps, others at the steps their rates buy
    (`rates` on today's machine)."""
    done = {(r['variant'], int(r['step']), int(r['seed'])) for r in read_rows(STEPS)}
    marks = sorted(marks)
    for name in names:
        if all((name, m, seed) in done for m in marks): continue
        cfg = config(name).replace(seed=seed, data={'seed': seed})
        bs = cfg.data.batch_size
        for step, scores, trained in marked_scores(name, cfg, marks, n):
            row = dict(variant=name, seed=seed, step=step, batch_size=bs, images=step * bs, threads=torch.get_num_threads(), **scores, wall_s=trained)
            write_row(row, STEPS, STEP_FIELDS); report(name, seed, f"step {step}", row)

def steps_table():
    rows = sorted(read_rows(STEPS), key=lambda r: (int(r['step']), -float(r['mean'])))
    label = lambda r: r['variant'] + (f" (seed {r['seed']})" if r['seed'] != '0' else '')
    print('| variant | steps | batch | ' + ' | '.join(SCORED) + ' | mean | FD-critic |')
    print('|---|---|---|' + '---|' * (len(SCORED) + 2))
    for r in rows:
        print(f"| {label(r)} | {r['step']} | {r['batch_size']} | " + ' | '.join(f"{float(r[k]):.0%}" for k in SCORED)
              + f" | {float(r['mean']):.1%} | {float(r['fd_critic']):.1f} |")

def table():
    rows = sorted(read_rows(), key=lambda r: (float(r['minutes']), -float(r['mean'])))
    label = lambda r: r['variant'] + (f" (seed {r['seed']})" if r['seed'] != '0' else '')
    print('| variant | minutes | steps | batch | img/s | ' + ' | '.join(SCORED) + ' | mean | FD-critic |')
    print('|---|---|---|---|---|' + '---|' * (len(SCORED) + 2))
    for r in rows:
        print(f"| {label(r)} | {float(r['minutes']):g} | {r['step']} | {r['batch_size']} | {r['rate_img_s']} | "
              + ' | '.join(f"{float(r[k]):.0%}" for k in SCORED) + f" | {float(r['mean']):.1%} | {float(r['fd_critic']):.1f} |")

def bare_step(name: str, bs: int = 64, px: int | None = None, bf16: bool = False, compile: bool = False):
    "One training step of the variant's model on random data at batch `bs` and `px` pixels (default: its image size), as a function."
    import torch.nn.functional as F
    from artdiff_nb.pipeline import make_model
    cfg = config(name); px = px or cfg.unet.image_size
    torch.manual_seed(0)
    m = make_model(cfg, 400); m.unet.to(memory_format=torch.channels_last)
    if compile: m.unet.compile()
    opt = torch.optim.AdamW(m.parameters(), 1e-3, foreach=True)
    x = torch.randn(bs, 3, px, px).contiguous(memory_format=torch.channels_last)
    t, ids, tgt = torch.randint(0, 1000, (bs,)), torch.randint(3, 400, (bs, 14)), torch.randn(bs, 3, px, px)
    def step():
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16): loss = F.mse_loss(m(x, t, ids).float(), tgt)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    return step

def images_per_s(step, bs: int = 64, iters: int = 8, warmup: int = 3) -> float:
    for _ in range(warmup): step()
    t0 = time.perf_counter()
    for _ in range(iters): step()
    return bs * iters / (time.perf_counter() - t0)

def speed(names=('preset',), bs: int = 64):
    "Levers that change only speed: bf16 autocast, torch.compile, thread counts, on each variant's model at batch `bs`."
    threads = torch.get_num_threads()
    def one(name, label, n_threads=None, **kw):
        if n_threads: torch.set_num_threads(n_threads)
        r = images_per_s(bare_step(name, bs, **kw), bs)
        print(f"| {name}: {label} | {r:.1f} |", flush=True)
    print(f"| the variant's step, batch {bs} | images/s |\n|---|---|")
    for name in names:
        one(name, f'fp32, channels_last, {threads} threads'); one(name, 'bf16 autocast', bf16=True)
        one(name, 'torch.compile', compile=True); one(name, '1 thread', n_threads=1); torch.set_num_threads(threads)

def cost(names, bs: int = 64, readings: int = 3):
    """What a step of each variant costs against the first, at its image size and at half of it (the half-size phase):
    bare steps at batch `bs`, the order alternated between readings, the median of `readings` readings of 10 steps."""
    first = config(names[0]).unet.image_size
    for px in (first, first // 2):
        steps = {n: bare_step(n, bs, px) for n in names}
        got = {n: [] for n in names}
        for r in range(readings):
            for n in (names if r % 2 == 0 else names[::-1]): got[n].append(images_per_s(steps[n], bs, iters=10))
        ref = float(np.median(got[names[0]]))
        for n in names: print(f"{px} px: {n}: {np.median(got[n]):.1f} images/s, {np.median(got[n]) / ref:.3f}x the first", flush=True)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('phase', choices=['rates', 'quality', 'table', 'speed', 'cost', 'steps', 'steps-table'])
    ap.add_argument('--variants', nargs='+', choices=list(VARIANTS), metavar='NAME', help='default: every variant; for speed, the base (preset)')
    ap.add_argument('--minutes', type=float, nargs='+', default=[2.5, 5])
    ap.add_argument('--steps', type=int, nargs='+', default=[450, 900], help='steps: the marks (default: %(default)s)')
    ap.add_argument('--repeat', type=int, default=2, help='rates: measurements per shape (default: %(default)s)')
    ap.add_argument('--reference', metavar='NAME', help='rates: measure beside this variant and store the ratio to it times its stored rate')
    ap.add_argument('--threads', type=int, help='quality: torch threads (default: torch\'s own)')
    ap.add_argument('--seed', type=int, default=0, help='quality: the training seed; another seed repeats a variant (default: %(default)s)')
    ap.add_argument('--n', type=int, help='held-out captions per evaluation (default: 108, 4 per style; steps: 270, 10 per style)')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    names = a.variants or (['preset'] if a.phase == 'speed' else [v for v in VARIANTS if v.startswith('w16')] if a.phase == 'steps' else list(VARIANTS))
    if a.phase == 'rates': rates(names, a.repeat, a.reference)
    elif a.phase == 'quality': quality(names, a.minutes, a.n or 108, a.seed)
    elif a.phase == 'steps': steps(names, a.steps, a.n or 270, a.seed)
    elif a.phase == 'speed': speed(names)
    elif a.phase == 'cost': cost(names)
    elif a.phase == 'steps-table': steps_table()
    else: table()
