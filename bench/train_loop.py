"""What the training loop costs on top of the bare step, in one run, as a ratio.

- reference: the CPU preset's bare training step in a plain loop (noise and timesteps drawn, v-prediction loss with
  min-SNR weights, backward, gradient clipping, AdamW, the EMA update) on one fixed batch of painted images;
- ours: `artdiff_nb.train.train` with the same preset and batch, as `artdiff train` runs it (the painter and the
  prefetch thread, fastai's Learner and callbacks, the log), without sample grids, metrics or mid-run checkpoints.

Images/s: the reference is timed over `--steps` steps after 3 warm-up steps; ours is the median of its log's readings
(every 5 steps) after the first two. Run with nothing else running: `.venv/bin/python bench/train_loop.py`.
"""
import argparse, copy, tempfile, time
from pathlib import Path

import numpy as np
import torch

from artdiff_nb.config import load_preset
from artdiff_nb.learner import collate, retain_freed_memory
from artdiff_nb.learner import diffusion_loss, sample_timesteps
from artdiff_nb.runfolder import read_log
from artdiff_nb.sources import ProcArtSource
from artdiff_nb.pipeline import make_model, make_schedule
from artdiff_nb.train import make_tokenizer, train

def bare_step_rate(cfg, steps: int) -> float:
    "Images/s of the preset's step in a plain loop on one batch of painted images."
    torch.manual_seed(0)
    src = ProcArtSource(seed=0, image_size=cfg.unet.image_size)
    tok = make_tokenizer(cfg, src)
    x0, ids = collate(src.samples(cfg.data.batch_size), tok)
    model, sched, o = make_model(cfg, len(tok)), make_schedule(cfg), cfg.optim
    model.unet.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), o.lr, weight_decay=o.wd, foreach=True)
    pairs = list(ema.parameters()), list(model.parameters())
    for i in range(steps + 3):
        if i == 3: t0 = time.perf_counter()
        t = sample_timesteps(len(x0), sched.T, o.timestep_sampling)
        noise = torch.randn_like(x0)
        x_t = sched.add_noise(x0, noise, t).contiguous(memory_format=torch.channels_last)
        loss = diffusion_loss(model(x_t, t, ids), sched.target(x0, noise, t), sched.min_snr_weight(t, o.min_snr_gamma))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), o.gradient_clipping)
        opt.step(); opt.zero_grad(set_to_none=True)
        torch._foreach_lerp_(*pairs, 1 - o.ema_decay)
    return len(x0) * steps / (time.perf_counter() - t0)

def loop_rate(cfg, steps: int) -> float:
    "Median images/s that `train` logs for the preset."
    with tempfile.TemporaryDirectory() as d:
        run = train(cfg.replace(output_folder=str(Path(d) / 'run'), checkpoint_interval=steps, log_interval=5), max_steps=steps, progress=False)
        return float(np.median([r['images_per_s'] for r in read_log(run / 'training_log.csv')[2:] if r.get('images_per_s')]))

def main(steps: int = 60):
    retain_freed_memory()                          # both sides reuse freed memory, as `train` does (bench/allocator.py)
    cfg = load_preset('procart-cpu').replace(n_sample_captions=0, n_metric_captions=0)
    ref, ours = bare_step_rate(cfg, steps), loop_rate(cfg, steps)
    print(f"CPU preset, batch {cfg.data.batch_size}, {torch.get_num_threads()} CPU threads, {steps} steps each")
    print('| what | images/s | ratio |\n|---|---|---|')
    print(f'| bare step in a plain loop (reference) | {ref:.1f} | 1.00 |')
    print(f'| `artdiff_nb.train.train` | {ours:.1f} | {ours / ref:.2f} |')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--steps', type=int, default=60)
    main(ap.parse_args().steps)
