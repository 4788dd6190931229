"""Quality per CPU-minute: our training against a reference built from diffusers' pieces, for the same wall-clock minutes.

Both sides learn from the same stream (procedural art, seed 0, 32 px, the CPU preset's 10% field dropout, the same 256
validation paintings held out), the same batch (64), the same caption tokenizer and caption encoder architecture, and
are measured the same way: at 2.5, 5, 10 and 15 minutes of training their weights are kept, and afterwards each copy is
evaluated with `artdiff_nb.metrics.evaluate` (caption fidelity per field, FD-critic, KD-critic) on the same held-out
captions with the same sampler (our DPM++ 2M, 20 steps, guidance 2).

- ours: `artdiff_nb.train.train` with the CPU preset (our UNet, v-prediction, min-SNR 5, logit-normal timesteps, a caption
  encoder without transformer layers or positions, AdamW lr 2e-3 with a 100-step warm-up and a cosine decay, EMA 0.995, the
  first 30% of the steps on half-size images), everything it does while training included (data prefetch, EMA, logging); no
  sample grids, metrics or mid-run checkpoints. A recipe with a half-size phase is shaped in steps, so each mark is a run
  of its own sized to fill its minutes (`run_ours_budgets`), as `make demo` is; without one, the marks are the weights
  of one run whose cosine is sized to the longest (`run_ours`).
- reference: the way diffusers' text-to-image example trains: `UNet2DConditionModel` (the preset's channels, as many layers per
  block as our UNet has blocks per level, cross-attention at the two lowest levels; 1.1 M parameters against our 0.86 M),
  `DDPMScheduler` noise (1000 linear betas, epsilon prediction), uniform timesteps, plain MSE, a plain AdamW loop with the example's defaults
  (weight decay 1e-2, gradient norm clipped at 1, constant learning rate after warm-up, no EMA), our caption encoder trained
  with it. Two departures, both in its favour: the learning rate and warm-up are ours before the third round of the recipe study
  (1e-3, 100 steps; the example's 1e-4 with 500 warm-up steps is a GPU setting that learns almost nothing in 15
  CPU-minutes), and 10% of captions are dropped
  as ours are, since sampling uses classifier-free guidance.

Run: `.venv/bin/python bench/time_to_quality.py [--minutes 2.5 5 10 15] [--n 108]` with nothing else running (about an
hour: ours trains a run of its own per mark); `--sides reference --reference-lr 2e-3` trains the reference alone at
another learning rate.

`--size 128`: 128 px paintings. Ours is the `procart-128` preset (the UNet on the 16 x 16 x 4 latents of the shipped
autoencoder procart-ae, trained on a latent cache), one run sized to the last mark with the earlier marks' EMA weights kept
on the way; the clock starts before the latent cache is rendered and encoded, so every second of compute counts except
training the autoencoder itself. The reference is pixel space at 128 px with the same recipe (loss, optimiser, EMA,
sampler) and a UNet that reaches the same resolutions as ours from 128 px (widths 16, 32, 32, 64, 128: self-attention at
8 x 8, cross-attention at 16 and 8), streamed from the painter. Evaluation on `--n 270` held-out captions; results in
bench/results/time_to_quality_128.csv (machine, date and commit on each row). `--keep DIR` keeps ours' run folder (the
60-minute run is what `tools/train_pretrained.py export --model pretrained-128 --run DIR` ships).
Appends its rows to bench/results/time_to_quality.csv (machine, date and commit on each), prints the table and, when both sides
ran at the reference's default learning rate, draws docs/images/time_to_quality.png.
"""
import argparse, copy, csv, json, tempfile, time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from fastai.callback.core import Callback, CancelFitException
from safetensors import safe_open

from artdiff_nb.captions import CaptionTokenizer
from artdiff_nb.callbacks import EMACallback
from artdiff_nb.config import load_preset
from artdiff_nb.learner import retain_freed_memory
from artdiff_nb.data import BatchStream, validation_samples
from artdiff_nb.encoder import CaptionEncoder, drop_captions
from artdiff_nb.critic import SCORED
from artdiff_nb.metrics import evaluate
from artdiff_nb.schedules import NoiseSchedule
from artdiff_nb.runfolder import read_log
from artdiff_nb.pipeline import ArtDiffPipeline
from artdiff_nb.train import make_sources, make_tokenizer, train
from train_step import DiffusersDenoiser              # bench/ is on the path when a bench script runs

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_LR = 1e-3      # the reference's learning rate in the table and figure

class Marks(Callback):
    """Keep a copy of the EMA weights when training time passes each mark (seconds); stop at the last (with `stop`).
    `t0`: when the clock started (default: when fitting starts)."""
    order = 90
    def __init__(self, marks, t0=None, stop=True): self.marks, self.kept, self.t0, self.stop = list(marks), [], t0, stop
    def before_fit(self):
        if self.t0 is None: self.t0 = time.perf_counter()
    def after_batch(self):
        if not self.training or not self.marks: return
        if time.perf_counter() - self.t0 >= self.marks[0]:
            ema = next(c for c in self.learn.cbs if isinstance(c, EMACallback)).ema_model
            self.kept.append((self.marks.pop(0), self.learn.train_iter, copy.deepcopy(ema).cpu()))
            if not self.marks and self.stop: raise CancelFitException()
    def after_fit(self):
        if self.marks: raise RuntimeError(f"training ended at step {self.learn.train_iter}, before the marks {self.marks} s: size its steps larger")

def run_ours(cfg, marks, folder: Path):
    # the cosine schedule is sized to the longest mark: a short probe of this machine's speed first, with a margin, since
    # a run that reaches its steps before the last mark has no weights for it (the probe's first steps run slow)
    probe = train(cfg.replace(output_folder=str(folder / 'probe'), checkpoint_interval=40, log_interval=2), max_steps=40, progress=False)
    rate = np.median([r['images_per_s'] for r in read_log(probe / 'training_log.csv')[5:] if r.get('images_per_s')])
    steps = int(marks[-1] * rate / cfg.data.batch_size * 1.2)
    cb = Marks(marks)
    run = train(cfg.replace(output_folder=str(folder / 'ours'), checkpoint_interval=steps), max_steps=steps, progress=False, cbs=[cb])
    tok = CaptionTokenizer.load(run / 'tokenizer.json')
    return [(m, step, ArtDiffPipeline(model.eval(), tok, cfg, step=step, name='ours')) for m, step, model in cb.kept], tok

def run_ours_budgets(cfg, marks, folder: Path):
    """Ours when the recipe has a shape in steps (the preset's half-size first phase, `low_res_fraction`): one run per mark,
    each sized to fill that mark's seconds of training, as `make demo` is a run of its own and not the first minutes of a
    longer one. A 40-step probe, half of it at half size, measures both speeds for the first run; each later run is sized
    by the speeds the run before it measured over hundreds of steps (a probe's first steps run slow, so a run sized by it
    alone falls 10-20% short of its budget)."""
    f, bs = cfg.optim.low_res_fraction, cfg.data.batch_size
    def rates(run, half_end, end, skip):
        log = [r for r in read_log(run / 'training_log.csv') if r.get('images_per_s')]
        rate = lambda lo, hi: np.median([r['images_per_s'] for r in log if lo < r['step'] <= hi])
        return rate(skip, half_end), rate(half_end + skip, end)
    probe = train(cfg.replace(output_folder=str(folder / 'probe'), checkpoint_interval=40, log_interval=2, optim={'low_res_fraction': 0.5}),
                  max_steps=40, progress=False)
    r_half, r_full = rates(probe, 20, 40, 6)
    print(f"probe: {r_half:.0f} images/s at half size, {r_full:.0f} at full size", flush=True)
    kept, tok = [], None
    for m in marks:
        steps = max(2, int(m / (bs * (f / r_half + (1 - f) / r_full))))
        t0 = time.perf_counter()
        run = train(cfg.replace(output_folder=str(folder / f'ours_{m:g}'), checkpoint_interval=steps), max_steps=steps, progress=False)
        took, log = time.perf_counter() - t0, read_log(run / 'training_log.csv')
        trained = max(r['elapsed_s'] for r in log if r.get('images_per_s'))
        r = ArtDiffPipeline.from_pretrained(run, device='cpu'); r.name, tok = 'ours', r.tokenizer                 # its EMA weights at the last step
        print(f"ours, a run of its own for {m / 60:g} min: {steps} steps, {trained:.0f} s of training ({took:.0f} s with setup)", flush=True)
        kept.append((m, steps, r))
        half = round(f * steps)
        if half > 40 and steps - half > 40: r_half, r_full = rates(run, half, steps, 20)
    return kept, tok

def run_reference(cfg, tok, marks, lr=REFERENCE_LR, warmup=100, caption_dropout=0.1):
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    torch.manual_seed(cfg.seed)
    src = make_sources(cfg)[0]
    validation_samples(src, cfg.data.valid_size)                  # the same paintings held out as in ours
    stream = BatchStream(src, tok, cfg.data.batch_size)
    model = DiffusersDenoiser(CaptionEncoder(len(tok), cfg.encoder), cfg).train()   # the model bench/train_step.py times
    noise_scheduler = DDPMScheduler(num_train_timesteps=1000)      # linear betas 1e-4..0.02, epsilon
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    lr_sched = get_scheduler('constant_with_warmup', optimizer=opt, num_warmup_steps=warmup)
    ref_cfg = cfg.replace(schedule={'beta_schedule': 'linear', 'prediction_type': 'epsilon'})
    kept, step, marks, t0 = [], 0, list(marks), time.perf_counter()
    try:
        while marks:
            images, ids = next(stream)
            ids = drop_captions(ids, caption_dropout)
            noise = torch.randn_like(images)
            t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (images.shape[0],))
            pred = model(noise_scheduler.add_noise(images, noise, t), t, ids)
            loss = F.mse_loss(pred.float(), noise.float())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); lr_sched.step(); opt.zero_grad(set_to_none=True)
            step += 1
            if time.perf_counter() - t0 >= marks[0]:
                m = copy.deepcopy(model).eval()
                kept.append((marks.pop(0), step, ArtDiffPipeline(m, tok, ref_cfg, NoiseSchedule(ref_cfg.schedule), step=step, name='reference')))
    finally: stream.close()
    return kept

PIXEL_128 = dict(image_size=128, num_channels=3, widths=(16, 32, 32, 64, 128), attn_levels=(4,), cross_attn_levels=(3, 4))

def run_sized(cfg, marks, folder: Path, probe_cfg):
    """One run of `cfg` whose steps fill `marks[-1]` seconds from the moment it is called (a latent cache's building counted),
    the EMA weights kept at the earlier marks; the last is the run's own end. `probe_cfg` measures the training speed first."""
    probe = train(probe_cfg.replace(output_folder=str(folder.with_name(folder.name + '_probe')), checkpoint_interval=40, log_interval=2),
                  max_steps=40, progress=False)
    rate = np.median([r['images_per_s'] for r in read_log(probe / 'training_log.csv')[5:] if r.get('images_per_s')])
    cache = (probe / 'latent_cache.safetensors')
    per_painting = json.loads(safe_open(str(cache), 'pt').metadata()['info'])['seconds'] / probe_cfg.latent_cache if cache.exists() else 0
    seconds = marks[-1] - per_painting * cfg.latent_cache
    steps = max(10, int(seconds * rate / cfg.data.batch_size * 0.97))     # a little short: sample grids and checkpoints take time too
    print(f"{folder.name}: {rate:.0f} images/s; {steps} steps to fill {marks[-1] / 60:g} min", flush=True)
    t0 = time.perf_counter()
    cb = Marks(marks[:-1], t0=t0, stop=False)
    run = train(cfg.replace(output_folder=str(folder), checkpoint_interval=max(1, steps // 4), sample_interval=max(1, steps // 4)),
                max_steps=steps, progress='lines', cbs=[cb])
    took = time.perf_counter() - t0
    tok = CaptionTokenizer.load(run / 'tokenizer.json')
    final = ArtDiffPipeline.from_pretrained(run, device='cpu')
    kept = [(m, step, ArtDiffPipeline(model.eval(), tok, cfg, step=step, name=folder.name, autoencoder=final.autoencoder)) for m, step, model in cb.kept]
    print(f"{folder.name}: {steps} steps in {took / 60:.1f} min", flush=True)
    return kept + [(took, steps, final)]

def main128(minutes=(5, 15, 30, 60), n=270, sides=('ours', 'reference'), keep=None):
    retain_freed_memory()
    marks = [60 * m for m in minutes]
    latent = load_preset('procart-128').replace(n_sample_captions=8, n_metric_captions=0)
    pixel = latent.replace(autoencoder=None, latent_factor=1, latent_cache=0, unet=PIXEL_128)
    print(f"{torch.get_num_threads()} CPU threads; marks {minutes} min; evaluation on {n} held-out captions", flush=True)
    rows, ceiling = [], None
    with tempfile.TemporaryDirectory() as d:
        for side in sides:
            cfg = latent if side == 'ours' else pixel
            folder = Path(keep) if side == 'ours' and keep else Path(d) / side
            kept = run_sized(cfg, marks, folder, cfg.replace(latent_cache=256) if cfg.latent_cache else cfg)
            for mark, step, pipe in kept:
                r = evaluate(pipe, n=n, progress=False)
                ceiling = r['ceiling']
                rows.append(dict(side='ours (latents)' if side == 'ours' else 'pixels', minutes=round(mark / 60, 2), step=step,
                                 images=step * cfg.data.batch_size, params_m=round(sum(p.numel() for p in pipe.model.parameters()) / 1e6, 2),
                                 **{k: round(r['fidelity'][k], 4) for k in SCORED}, fd_critic=round(r['fd_critic'], 2),
                                 sampling_img_s=round(r['images_per_s'], 2)))
                print(f"{side} at {mark / 60:.1f} min (step {step}): " + ', '.join(f"{k} {r['fidelity'][k]:.0%}" for k in SCORED)
                      + f", FD-critic {r['fd_critic']:.1f}, sampling {r['images_per_s']:.1f} img/s", flush=True)
    rows.append(dict(side='painted (ceiling)', **{k: round(ceiling[k], 4) for k in SCORED}))
    from data import record                                      # bench/data.py: one results writer
    fields = ['machine', 'date', 'commit', 'side', 'minutes', 'step', 'images', 'params_m', *SCORED, 'fd_critic', 'sampling_img_s']
    record(ROOT / 'bench' / 'results' / 'time_to_quality_128.csv', fields, rows)
    figure128()
    print(f"\n| side | minutes | steps | {' | '.join(SCORED)} | FD-critic | sampling img/s |")
    print('|---|---|---|' + '---|' * (len(SCORED) + 2))
    for r in rows:
        print(f"| {r['side']} | {r.get('minutes', '')} | {r.get('step', '')} | " + ' | '.join(f"{100 * r[k]:.1f}" for k in SCORED)
              + f" | {r.get('fd_critic', '')} | {r.get('sampling_img_s', '')} |")

def figure128(out=ROOT / 'docs' / 'images' / 'time_to_quality_128.png'):
    """Each side's newest run of `--size 128` from its results file: caption fidelity per field against minutes, a line per side,
    the painted images' reading dotted and their reading through procart-ae (a latent model's ceiling) dashed."""
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from artdiff_nb.autoencoder import load_autoencoder
    from artdiff_nb.figures import save_figure
    every = list(csv.DictReader(open(ROOT / 'bench' / 'results' / 'time_to_quality_128.csv')))
    newest = lambda side: [r for r in every if r['side'] == side and (r['date'], r['commit']) == next(
        (x['date'], x['commit']) for x in reversed(every) if x['side'] == side)] if any(x['side'] == side for x in every) else []
    rows = newest('ours (latents)') + newest('pixels') + newest('painted (ceiling)')[-1:]    # each side's newest run
    kept = load_autoencoder('procart-ae').info['fidelity']
    fig, axs = plt.subplots(1, len(SCORED), figsize=(2.9 * len(SCORED), 3.1), sharey=True)
    for ax, k in zip(axs, SCORED):
        for side, style in (('ours (latents)', 'o-'), ('pixels', 's--')):
            r = [x for x in rows if x['side'] == side]
            if r: ax.plot([float(x['minutes']) for x in r], [100 * float(x[k]) for x in r], style, label=side, ms=4)
        painted = next(x for x in rows if x['side'] == 'painted (ceiling)')
        ax.axhline(100 * float(painted[k]), color='grey', ls=':', lw=1, label='painted images')
        ax.axhline(100 * kept[k], color='grey', ls='--', lw=1, label='painted, through procart-ae')
        ax.set(title=k, xlabel='minutes on 2 CPU cores', ylim=(0, 101)); ax.grid(alpha=0.3)
    axs[0].set_ylabel('samples read as captioned (%)'); axs[0].legend(fontsize=6, loc='center right')
    fig.suptitle('128 px paintings: caption fidelity against CPU-minutes, all compute counted (the latent cache included)', fontsize=10)
    fig.tight_layout()
    save_figure(fig, out)
    return out

def figure(rows, ceiling, out):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from artdiff_nb.figures import save_figure
    fig, axs = plt.subplots(1, len(SCORED) + 1, figsize=(3.0 * (len(SCORED) + 1), 3.1))
    for ax, k in zip(axs, SCORED):
        for side, style in (('ours', 'o-'), ('reference', 's--')):
            r = [x for x in rows if x['side'] == side]
            ax.plot([x['minutes'] for x in r], [100 * x[k] for x in r], style, label=side, ms=4)
        ax.axhline(100 * ceiling[k], color='grey', ls=':', lw=1, label='painted images')
        ax.set(title=k, xlabel='training minutes (2 CPU cores)', ylim=(0, 101)); ax.grid(alpha=0.3)
    axs[0].set_ylabel('samples read as captioned (%)'); axs[0].legend(fontsize=7)
    ax = axs[-1]
    for side, style in (('ours', 'o-'), ('reference', 's--')):
        r = [x for x in rows if x['side'] == side]
        ax.plot([x['minutes'] for x in r], [x['fd_critic'] for x in r], style, label=side, ms=4)
    ax.set(title='FD-critic (lower is better)', xlabel='training minutes (2 CPU cores)', yscale='log'); ax.grid(alpha=0.3, which='both')
    fig.suptitle('caption fidelity per field against CPU-minutes: artdiff_nb against a diffusers-built reference', fontsize=10)
    fig.tight_layout()
    save_figure(fig, out)

def main(minutes=(2.5, 5, 10, 15), n=108, sides=('ours', 'reference'), reference_lr=REFERENCE_LR):
    retain_freed_memory()                          # both sides reuse freed memory, as `train` does (bench/allocator.py)
    marks = [60 * m for m in minutes]
    cfg = load_preset('procart-cpu').replace(n_sample_captions=0, n_metric_captions=0)
    print(f"{torch.get_num_threads()} CPU threads; marks {minutes} min; evaluation on {n} held-out captions", flush=True)
    rows, ceiling = [], None
    with tempfile.TemporaryDirectory() as d:
        kept_by_side, tok = {}, None
        if 'ours' in sides:
            run_side = run_ours_budgets if cfg.optim.low_res_fraction else run_ours
            t = time.perf_counter(); kept_by_side['ours'], tok = run_side(cfg, marks, Path(d)); print(f"ours trained ({time.perf_counter() - t:.0f} s)", flush=True)
        if 'reference' in sides:
            if tok is None: tok = make_tokenizer(cfg, make_sources(cfg)[0])     # the vocabulary `train` builds
            t = time.perf_counter(); kept_by_side['reference'] = run_reference(cfg, tok, marks, lr=reference_lr)
            print(f"reference (lr {reference_lr:g}) trained ({time.perf_counter() - t:.0f} s)", flush=True)
        for side, kept in kept_by_side.items():
            for mark, step, run in kept:
                r = evaluate(run, n=n, progress=False)
                ceiling = r['ceiling']
                rows.append(dict(side=side, minutes=mark / 60, step=step, images=step * cfg.data.batch_size,
                                 params_m=sum(p.numel() for p in run.model.parameters()) / 1e6, **r['fidelity'],
                                 fd_critic=r['fd_critic'], kd_critic=r['kd_critic'], sampling_img_s=r['images_per_s']))
                print(f"{side} at {mark / 60:g} min (step {step}): " + ', '.join(f"{k} {r['fidelity'][k]:.0%}" for k in SCORED)
                      + f", FD-critic {r['fd_critic']:.1f}", flush=True)
    both = set(sides) == {'ours', 'reference'} and reference_lr == REFERENCE_LR
    from data import record                                      # bench/data.py: one results writer
    fields = ['machine', 'date', 'commit', 'side', 'reference_lr', 'minutes', 'step', 'images', 'params_m', *SCORED, 'fd_critic', 'kd_critic', 'sampling_img_s']
    record(ROOT / 'bench' / 'results' / 'time_to_quality.csv', fields,
           [{k: round(v, 4) if isinstance(v, float) else v for k, v in dict(r, reference_lr=reference_lr if r['side'] == 'reference' else '').items()}
            for r in rows] + [dict(side='painted (ceiling)', **{k: round(ceiling[k], 4) for k in SCORED})])
    if both: figure(rows, ceiling, ROOT / 'docs' / 'images' / 'time_to_quality.png')
    print(f"\n| side | minutes | steps | {' | '.join(SCORED)} | FD-critic | KD-critic | sampling img/s |")
    print('|---|---|---|' + '---|' * (len(SCORED) + 3))
    for r in sorted(rows, key=lambda r: (r['minutes'], r['side'])):
        print(f"| {r['side']} | {r['minutes']:g} | {r['step']} | " + ' | '.join(f"{r[k]:.1%}" for k in SCORED)
              + f" | {r['fd_critic']:.1f} | {r['kd_critic']:.3f} | {r['sampling_img_s']:.2f} |")
    print("| painted images (ceiling) | | | " + ' | '.join(f"{ceiling[k]:.1%}" for k in SCORED) + ' | | | |')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--size', type=int, choices=[32, 128], default=32, help='paintings of 32 px (pixels), or 128 px (ours through latents, against pixels)')
    ap.add_argument('--minutes', type=float, nargs='+', help='the marks (default: 2.5 5 10 15; at --size 128, 5 15 30 60)')
    ap.add_argument('--n', type=int, help='held-out captions per evaluation (default: 108, 4 per style; at --size 128, 270)')
    ap.add_argument('--keep', help="--size 128: keep ours' run folder here")
    ap.add_argument('--figure', action='store_true', help='--size 128: only draw docs/images/time_to_quality_128.png from the results file')
    ap.add_argument('--sides', nargs='+', choices=['ours', 'reference'], default=['ours', 'reference'], help='which to train (default: both)')
    ap.add_argument('--reference-lr', type=float, default=REFERENCE_LR, help="the reference's learning rate (default: %(default)s); a run other than the "
                    "default two sides at the default lr draws no figure")
    a = ap.parse_args()
    if a.size == 128 and a.figure: print(figure128())
    elif a.size == 128: main128(tuple(a.minutes or (5, 15, 30, 60)), a.n or 270, tuple(a.sides), a.keep)
    else: main(tuple(a.minutes or (2.5, 5, 10, 15)), a.n or 108, tuple(a.sides), a.reference_lr)
