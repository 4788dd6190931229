"""Style obedience of a trained run: the share of generated images whose style StyleProbe recognises as the caption's,
side by side with the probe's accuracy on real procedural paintings of the same captions (the ceiling), in one run.
Run: `.venv/bin/python bench/quality.py --model-path runs/procart-cpu [--per-style 8]`."""
import argparse
import numpy as np
from artdiff_nb.procart import STYLES, sample_painting, render
from artdiff_nb.metrics import StyleProbe
from artdiff_nb.train import load_run

def main(model_path, per_style=8, seed=5):
    run = load_run(model_path)
    probe = StyleProbe(size=run.cfg.unet.image_size)
    ps = [sample_painting(seed, i, [s]) for s in STYLES for i in range(per_style)]
    caps, styles = [p.caption for p in ps], [p.style for p in ps]
    real = np.stack([render(p, run.cfg.unet.image_size) for p in ps])
    gen = np.concatenate([run.generate(caps[i:i + 16], seed=1000 + i) for i in range(0, len(caps), 16)])
    pred = probe.predict(gen)
    print(f"run: {run}; sampling: {run.sampling.sampler}, {run.sampling.steps} steps, guidance {run.sampling.guidance_scale}")
    print('| style | generated images with the caption\'s style |')
    print('|---|---|')
    for s in STYLES:
        idx = [i for i, x in enumerate(styles) if x == s]
        print(f"| {s} | {sum(pred[i] == s for i in idx)}/{len(idx)} |")
    a_gen, a_real = probe.accuracy(gen, styles), probe.accuracy(real, styles)
    print(f"\nstyle obedience {a_gen:.1%} (generated) vs {a_real:.1%} (the painter's own images of the same captions): "
          f"ratio {a_gen / a_real:.2f}; chance {1 / len(STYLES):.1%}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--model-path', default='runs/procart-cpu')
    ap.add_argument('--per-style', type=int, default=8); a = ap.parse_args(); main(a.model_path, a.per_style)
