"""Reproduce the model shipped as `pretrained` (artdiff_nb/weights/pretrained/).

Two stages, each resumable:
  .venv/bin/python tools/train_pretrained.py train [--steps N] [--run runs/pretrained]   # 9,000 steps: ~60 minutes on 2 cores
  .venv/bin/python tools/train_pretrained.py export [--run runs/pretrained] [--n 270]    # evaluate, then write the package's copy
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

SHIPPED = Path(__file__).resolve().parent.parent / 'artdiff_nb' / 'weights' / 'pretrained'

def train(run: Path, steps: int | None, recipe: str):
    import json
    from artdiff_nb.config import TrainConfig, load_preset
    from artdiff_nb.runfolder import latest_checkpoint
    from artdiff_nb.train import train as fit
    cfg = (TrainConfig.from_dict(json.loads((SHIPPED / 'config.json').read_text())) if recipe == 'shipped'
           else load_preset('procart-cpu'))
    cfg = cfg.replace(output_folder=str(run), checkpoint_interval=200, metrics_interval=400, sample_interval=400, metrics_budget=0.1)
    resume = latest_checkpoint(run / 'checkpoints') is not None
    fit(cfg, resume=resume, max_steps=steps, progress='lines')   # None: the config's own steps

def export(run: Path, n: int, dest: Path):
    from artdiff_nb.metrics import evaluate
    from artdiff_nb.pipeline import ArtDiffPipeline
    pipe = ArtDiffPipeline.from_pretrained(run, device='cpu')
    pipe.name, pipe.evaluation = 'pretrained', evaluate(pipe, n=n)
    pipe.save_pretrained(dest, model_card_kwargs={'use_as': 'pretrained'})

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('stage', choices=['train', 'export'])
    ap.add_argument('--run', type=Path, default=Path('runs/pretrained'))
    ap.add_argument('--steps', type=int, help="train: steps (default: the recipe's own: the shipped model's steps, or the preset's iterations)")
    ap.add_argument('--n', type=int, default=270, help='held-out captions the model card is measured on')
    ap.add_argument('--recipe', choices=['shipped', 'preset'], default='shipped', help='train: the shipped model\'s config, or the CPU preset')
    ap.add_argument('--dest', type=Path, default=SHIPPED)
    a = ap.parse_args()
    train(a.run, a.steps, a.recipe) if a.stage == 'train' else export(a.run, a.n, a.dest)
