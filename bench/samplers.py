"""The sampler study: which sampler, how many steps and how much guidance, for what quality per model evaluation.

One trained run (the CPU preset after 15 minutes), `n` held-out captions, the same seeds everywhere; each setting is
scored with the art critic (`artdiff_nb.metrics.evaluate`): mean caption fidelity over the fields, style fidelity,
FD-critic, model evaluations per image (2 per step with guidance) and wall time. Settings: DDPM 1000 and 250 steps,
DDIM 200, 50 and 25 (eta 0), DPM-Solver++(2M) 10, 20 and 25, at the run's guidance; then guidance 1, 2, 3 and 5 with
DPM-Solver++(2M) at 20 steps. Prints a markdown table, appends its rows to `bench/results/sampler_study.csv` and draws a
figure (`docs/images/sampler_study.png`; `--figure-only` redraws it from the newest full study in the CSV).
Run alone (it times itself): `.venv/bin/python bench/samplers.py --model-path runs/procart-cpu [--n 108]`.
`--guidance-only --guidance 1.5 2 3 4` runs only the guidance sweep (DPM-Solver++(2M), 20 steps) at the scales given and
appends only its rows, leaving the figure as it is. Every row is stamped with the machine, the date and the commit.
"""
import argparse, csv, os
from pathlib import Path
os.environ.setdefault('OMP_NUM_THREADS', '2')
import numpy as np
from artdiff_nb.critic import SCORED
from artdiff_nb.metrics import evaluate
from artdiff_nb.pipeline import ArtDiffPipeline

SAMPLERS = [('ddpm', 1000), ('ddpm', 250), ('ddim', 200), ('ddim', 50), ('ddim', 25), ('dpm++2m', 25), ('dpm++2m', 20), ('dpm++2m', 10)]
GUIDANCE = [1.0, 2.0, 3.0, 5.0]
ROOT = Path(__file__).resolve().parents[1]

def figure(rows, out):
    "Three panels: KD-critic and mean caption fidelity against model evaluations per sampler, and the guidance sweep."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from artdiff_nb.figures import save_figure
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 3.9))
    for s, mk in (('ddpm', 's'), ('ddim', 'o'), ('dpm++2m', '^')):
        rr = sorted((r for r in rows if r['sampler'] == s and r['study'] == 'steps'), key=lambda r: r['evals'])
        a.plot([r['evals'] for r in rr], [r['kd_critic'] for r in rr], mk + '-', label=s)
        b.plot([r['evals'] for r in rr], [100 * r['mean'] for r in rr], mk + '-', label=s)
        for r in rr:
            a.annotate(str(int(r['steps'])), (r['evals'], r['kd_critic']), fontsize=7, xytext=(3, 3), textcoords='offset points')
            b.annotate(str(int(r['steps'])), (r['evals'], 100 * r['mean']), fontsize=7, xytext=(3, 3), textcoords='offset points')
    a.set(xscale='log', xlabel='model evaluations per image (log)', ylabel='KD-critic (lower is better)', title='distance to painted images')
    b.set(xscale='log', xlabel='model evaluations per image (log)', ylabel='mean caption fidelity (%)', title='caption fidelity (labels: steps)')
    g = sorted((r for r in rows if r['study'] == 'guidance'), key=lambda r: r['guidance_scale'])
    gs = [r['guidance_scale'] for r in g]
    c.plot(gs, [100 * r['mean'] for r in g], 'o-', label='mean fidelity (%)')
    c.plot(gs, [100 * r['style'] for r in g], 's-', label='style fidelity (%)')
    c2 = c.twinx(); c2.plot(gs, [r['kd_critic'] for r in g], 'k^--', label='KD-critic (right)'); c2.set_ylabel('KD-critic')
    c.set(xlabel='guidance scale', ylabel='%', title='guidance, DPM-Solver++(2M) 20 steps')
    c.legend(fontsize=7, loc='lower center'); c2.legend(fontsize=7, loc='lower right')
    for ax in (a, b): ax.grid(alpha=0.3, which='both'); ax.legend(fontsize=8)
    c.grid(alpha=0.3)
    fig.tight_layout(); save_figure(fig, out)

RESULTS = ROOT / 'bench' / 'results' / 'sampler_study.csv'
FIELDS = ['machine', 'date', 'commit', 'model', 'study', 'sampler', 'steps', 'guidance_scale', 'eta', 'evals', 'mean', *SCORED,
          'fd_critic', 'kd_critic', 'seconds_per_image', 'fd_floor']

def read_rows(path=RESULTS):
    "The rows of the newest full study (steps and guidance) in the results file, numbers as numbers."
    def num(v):
        try: return float(v)
        except ValueError: return v
    with open(path, newline='') as f: rows = [{k: num(v) for k, v in r.items()} for r in csv.DictReader(f)]
    last = next(r for r in reversed(rows) if r['study'] == 'steps')
    return [r for r in rows if (r['commit'], r['model']) == (last['commit'], last['model'])]

def main(model_path, n=108, guidance=GUIDANCE, guidance_only=False):
    run = ArtDiffPipeline.from_pretrained(model_path, device='cpu')
    g0 = run.sampling.guidance_scale
    settings = [] if guidance_only else [('steps', dict(sampler=s, steps=k, guidance_scale=g0, eta=0.0)) for s, k in SAMPLERS]
    settings += [('guidance', dict(sampler='dpm++2m', steps=20, guidance_scale=g, eta=0.0)) for g in guidance]
    rows = []
    for study, opts in settings:
        r = evaluate(run, n=n, progress=False, sampling=run.sampling.replace(**opts))
        row = dict(model=str(model_path), study=study, **opts, evals=opts['steps'] * (2 if opts['guidance_scale'] != 1 else 1),
                   mean=round(float(np.mean([r['fidelity'][k] for k in SCORED])), 4), **{k: round(r['fidelity'][k], 4) for k in SCORED},
                   fd_critic=round(r['fd_critic'], 4), kd_critic=round(r['kd_critic'], 4), seconds_per_image=round(r['sampling_seconds'] / n, 4),
                   fd_floor=round(r['fd_floor'], 4))
        rows.append(row); print(row, flush=True)
    from data import record                                     # bench/data.py: a results file's rows, stamped
    record(RESULTS, FIELDS, rows)
    if not guidance_only: figure(rows, ROOT / 'docs' / 'images' / 'sampler_study.png')
    print(f"\n{run}; {n} held-out captions; FD-critic floor (painted vs painted) {rows[0]['fd_floor']:.2f}\n")
    print('| sampler | steps | guidance | evals/image | s/image | mean fidelity | ' + ' | '.join(SCORED) + ' | FD-critic | KD-critic |')
    print('|---|---|---|---|---|---|' + '---|' * len(SCORED) + '---|---|')
    for r in rows:
        print(f"| {r['sampler']} | {r['steps']} | {r['guidance_scale']:g} | {r['evals']} | {r['seconds_per_image']:.3f} | "
              f"{r['mean']:.1%} | " + ' | '.join(f"{r[k]:.1%}" for k in SCORED) +
              f" | {r['fd_critic']:.2f} | {r['kd_critic']:.4f} |")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--model-path', default='runs/procart-cpu'); ap.add_argument('--n', type=int, default=108)
    ap.add_argument('--figure-only', action='store_true', help='redraw the figure from bench/results/sampler_study.csv')
    ap.add_argument('--guidance', type=float, nargs='+', default=GUIDANCE, help='guidance scales of the sweep (default: %(default)s)')
    ap.add_argument('--guidance-only', action='store_true', help='only the guidance sweep (its rows appended, the figure left as it is)')
    a = ap.parse_args()
    if a.figure_only: figure(read_rows(), ROOT / 'docs' / 'images' / 'sampler_study.png')
    else: main(a.model_path, a.n, guidance=a.guidance, guidance_only=a.guidance_only)
