"""Reproduce the models shipped as `pretrained` (32 px, artdiff_nb/weights/pretrained/) and `pretrained-128` (128 px through
the latents of procart-ae, artdiff_nb/weights/pretrained-128/).

Two stages, each resumable:
  .venv/bin/python tools/train_pretrained.py train [--steps N] [--run runs/pretrained]   # 9,000 steps: ~60 minutes on 2 cores
  .venv/bin/python tools/train_pretrained.py export [--run runs/pretrained] [--n 270]    # evaluate, then write the package's copy
  .venv/bin/python tools/train_pretrained.py train --model pretrained-128                 # the procart-128 preset, --steps long
  .venv/bin/python tools/train_pretrained.py export --model pretrained-128
`train` runs the shipped model's own recipe (its `config.json`: one UNet block per level of 16/32/64 channels, logit-normal
timesteps, a 2-layer caption transformer at lr 1e-3) for its 9,000 steps, measuring caption fidelity every 400 steps; run it
again after a crash and it resumes. `--recipe preset` trains the current CPU preset instead (`--steps` for how long).
`export` evaluates the final EMA weights on held-out captions with the art critic and writes the model folder: half-precision
safetensors, config, tokenizer, sample grid and model card (`ArtDiffPipeline.save_pretrained` with its `evaluate`
measurement, as `artdiff export` writes). Replace the shipped model only with one that measures better on the same 270
captions; bench/README.md records how the candidates measured.
"""
import argparse
from pathlib import Path

WEIGHTS = Path(__file__).resolve().parent.parent / 'artdiff_nb' / 'weights'
SHIPPED = WEIGHTS / 'pretrained'

def train(run: Path, steps: int | None, recipe: str, model: str = 'pretrained'):
    import json
    from artdiff_nb.config import TrainConfig, load_preset
    from artdiff_nb.runfolder import latest_checkpoint
    from artdiff_nb.train import train as fit
    if model == 'pretrained-128': cfg = load_preset('procart-128')
    else: cfg = (TrainConfig.from_dict(json.loads((SHIPPED / 'config.json').read_text())) if recipe == 'shipped'
                 else load_preset('procart-cpu'))
    cfg = cfg.replace(output_folder=str(run), checkpoint_interval=200, metrics_interval=400, sample_interval=400, metrics_budget=0.1)
    resume = latest_checkpoint(run / 'checkpoints') is not None
    fit(cfg, resume=resume, max_steps=steps, progress='lines')   # None: the config's own steps

def export(run: Path, n: int, dest: Path, model: str = 'pretrained'):
    from artdiff_nb.metrics import evaluate
    from artdiff_nb.pipeline import ArtDiffPipeline
    pipe = ArtDiffPipeline.from_pretrained(run, device='cpu')
    pipe.name, pipe.evaluation = model, evaluate(pipe, n=n)
    pipe.save_pretrained(dest, model_card_kwargs={'use_as': model})

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('stage', choices=['train', 'export'])
    ap.add_argument('--model', choices=['pretrained', 'pretrained-128'], default='pretrained', help='which shipped model (default: %(default)s)')
    ap.add_argument('--run', type=Path, help='the run folder (default: runs/MODEL)')
    ap.add_argument('--steps', type=int, help="train: steps (default: the recipe's own: the shipped model's steps, or the preset's iterations)")
    ap.add_argument('--n', type=int, default=270, help='held-out captions the model card is measured on')
    ap.add_argument('--recipe', choices=['shipped', 'preset'], default='shipped', help='train: the shipped model\'s config, or the CPU preset')
    ap.add_argument('--dest', type=Path, help="export: where (default: the package's copy, artdiff_nb/weights/MODEL)")
    a = ap.parse_args()
    run = a.run or Path('runs') / a.model
    train(run, a.steps, a.recipe, a.model) if a.stage == 'train' else export(run, a.n, a.dest or WEIGHTS / a.model, a.model)
