"""Training and sampling with glibc's default malloc against `retain_freed_memory`, in one run, as ratios.

- reference: glibc's defaults (`ARTDIFF_RETAIN_MEMORY=0`): large freed blocks go back to the system after every step;
- ours: `artdiff_nb.learner.retain_freed_memory`, which `train`, `diffusion_learner` and every `artdiff` command call: freed blocks up
  to 32 MB stay in the heap for the next step.

Each measurement runs in a fresh process (the setting lasts for the life of a process), the two sides alternated, `--rounds`
times each: training is `artdiff_nb.train.train` on the CPU preset as `bench/train_loop.py` measures it (the median of
its log's images/s); sampling is the shipped `pretrained` model drawing 108 captions twice (DPM++ 2M, 20 steps,
guidance 2). Page faults and system time are the process's own (`getrusage`). Run with nothing else running:
`.venv/bin/python bench/allocator.py`.
"""
import argparse, json, os, resource, statistics, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent

def _usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_minflt, r.ru_stime

def _costs(since, images: int) -> dict:
    "Page faults and system time per image since `since` (a `_usage()`), and the process's peak memory."
    (f0, s0), (f1, s1) = since, _usage()
    return dict(faults_per_image=(f1 - f0) / images, sys_ms_per_image=(s1 - s0) / images * 1e3,
                peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

def work_train(steps: int) -> dict:
    sys.path.insert(0, str(HERE))
    from train_loop import loop_rate
    from artdiff_nb.config import load_preset
    cfg = load_preset('procart-cpu').replace(n_sample_captions=0, n_metric_captions=0)
    since = _usage()
    return dict(images_per_s=loop_rate(cfg, steps), **_costs(since, steps * cfg.data.batch_size))

def work_sample(n: int) -> dict:
    from artdiff_nb.learner import retain_freed_memory
    from artdiff_nb.pipeline import ArtDiffPipeline
    from artdiff_nb.procart import sample_painting
    retain_freed_memory()                                            # as `artdiff generate` does (it does nothing with ARTDIFF_RETAIN_MEMORY=0)
    pipe = ArtDiffPipeline.from_pretrained('pretrained', device='cpu')
    caps = [sample_painting(1, i).caption for i in range(n)]
    pipe(caps[:8], seed=0, output_type='uint8')                      # warm-up
    since, t0 = _usage(), time.perf_counter()
    for _ in range(2): pipe(caps, seed=0, output_type='uint8')
    return dict(images_per_s=2 * n / (time.perf_counter() - t0), **_costs(since, 2 * n))

def measure(what: str, retain: bool, arg: int) -> dict:
    env = {**os.environ, 'ARTDIFF_RETAIN_MEMORY': '1' if retain else '0'}
    out = subprocess.run([sys.executable, __file__, '--worker', what, '--arg', str(arg)], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])

def main(rounds: int, steps: int, n: int):
    rows = []
    for what, arg in (('train', steps), ('sample', n)):
        got = {False: [], True: []}
        for i in range(rounds):
            for retain in ((False, True) if i % 2 == 0 else (True, False)): got[retain].append(measure(what, retain, arg))
        rows.append((what, got))
    print(f"{os.cpu_count()} CPUs; {rounds} fresh processes per side, alternated; training: {steps} steps of the CPU preset; "
          f"sampling: {n} captions twice")
    print('| what | malloc | images/s | page faults per image | system ms per image | peak memory (MB) | speed vs default |')
    print('|---|---|---|---|---|---|---|')
    for what, got in rows:
        med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in got.items()}
        for retain in (False, True):
            m = med[retain]
            print(f"| {'training (`train`)' if what == 'train' else 'sampling (`Run.generate`)'} | "
                  f"{'retained (ours)' if retain else 'glibc default (reference)'} | {m['images_per_s']:.1f} | "
                  f"{m['faults_per_image']:.0f} | {m['sys_ms_per_image']:.2f} | {m['peak_mb']:.0f} | {m['images_per_s'] / med[False]['images_per_s']:.2f}x |")
        print(f"<!-- {what}: " + json.dumps({str(k): [round(r['images_per_s'], 1) for r in v] for k, v in got.items()}) + " -->")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--steps', type=int, default=60)
    ap.add_argument('--captions', type=int, default=108)
    ap.add_argument('--worker', choices=('train', 'sample'), help=argparse.SUPPRESS)
    ap.add_argument('--arg', type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker: print(json.dumps(work_train(a.arg) if a.worker == 'train' else work_sample(a.arg)))
    else: main(a.rounds, a.steps, a.captions)
