"""What a trained run learned, measured with the art critic (`artdiff_nb.metrics`): caption fidelity per field and per
style, FD-critic and KD-critic, for held-out captions, beside the ceiling (the critic on the painter's own images of the
same captions) and the floor (FD-critic between two painted sets). The same as `artdiff evaluate`, plus the per-style table.
Run: `.venv/bin/python bench/quality.py --model-path runs/procart-cpu [--n 270] [--sampler ...] [--steps ...] [--guidance-scale ...]`."""
import argparse
from artdiff_nb.metrics import evaluate, evaluation_table
from artdiff_nb.vocabulary import FAMILY
from artdiff_nb.pipeline import ArtDiffPipeline

def main(model_path, n=270, **options):
    run = ArtDiffPipeline.from_pretrained(model_path, device='cpu')
    s = run.sampling.replace(**options)
    r = evaluate(run, n=n, progress=False, sampling=s)
    print(f"run: {run}; sampling: {s.sampler}, {s.steps} steps, guidance {s.guidance_scale:g}; {n} held-out captions\n")
    print(evaluation_table(r))
    print('\n| style | family | samples in the caption\'s style |\n|---|---|---|')
    for st, v in sorted(r['style_fidelity'].items(), key=lambda kv: -kv[1]): print(f"| {st} | {FAMILY[st]} | {v:.0%} |")
    print(f"\n{r['images_per_s']:.2f} images/s while sampling")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--model-path', default='runs/procart-cpu'); ap.add_argument('--n', type=int, default=270)
    ap.add_argument('--sampler'); ap.add_argument('--steps', type=int); ap.add_argument('--guidance-scale', type=float)
    a = ap.parse_args()
    main(a.model_path, a.n, **{k: v for k, v in dict(sampler=a.sampler, steps=a.steps, guidance_scale=a.guidance_scale).items() if v is not None})
