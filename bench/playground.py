"""How fast the caption playground answers a click, against the library call it makes (the pipeline's), in one run.

The playground is for playing: one image at the default settings should come back well under a second after the model
is loaded. Measured on the model `Playground()` opens (`pretrained-128` where it ships; or --model-path) at its own
sampling settings: the median of --repeats clicks against the median of as many pipeline calls drawing the same images,
then every other mode clicked once. Rows are appended to bench/results/playground.csv (machine, date, commit).
Run: `.venv/bin/python bench/playground.py [--model-path NAME] [--repeats 7]` with nothing else running.
"""
import argparse, statistics, time
from pathlib import Path

from data import record                       # bench/data.py: a results file's rows, stamped with machine, date and commit

RESULTS = Path(__file__).parent / 'results' / 'playground.csv'
FIELDS = ('machine', 'date', 'commit', 'model', 'action', 'images', 'seconds', 'library_seconds', 'ratio')
WALK_TO = 'Andy Warhol / Red Portrait at Noon / Pop Art / portrait / 1965'
NEGATIVE = 'Claude Monet / Blue Harbour at Night / Impressionism / landscape / 1880'

def median_time(f, repeats: int) -> float:
    out = []
    for _ in range(repeats + 1):
        t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
    return statistics.median(out[1:])                      # the first warms up

def main(model_path=None, repeats=7):
    from artdiff_nb.playground import Playground, STRENGTHS, WALK_N
    from artdiff_nb.pipeline import ArtDiffPipeline, default_model
    t0 = time.perf_counter(); pipe = ArtDiffPipeline.from_pretrained(model_path or default_model(), device='cpu'); load_s = time.perf_counter() - t0
    pg = Playground(pipe)
    cap, s, n = pg.caption.value, pg.settings(), pg.n_images.value
    rows = []
    def row(action, images, seconds, lib=None):
        rows.append(dict(model=pipe.name, action=action, images=images, seconds=round(seconds, 3),
                         library_seconds=None if lib is None else round(lib, 3), ratio=None if lib is None else round(seconds / lib, 2)))
    row('Generate', n, median_time(pg.generate_button.click, repeats), median_time(lambda: pipe([cap] * n, seed=0, sampling=s, output_type='uint8'), repeats))
    start = pg.drawn[0]
    pg.which.value = 1
    lib = median_time(lambda: pipe([cap] * n, seed=0, sampling=s, image=start, strength=pg.strength.value, output_type='uint8'), repeats)
    row('Repaint (img2img)', n, median_time(pg.picture_buttons['repaint'].click, repeats), lib)
    pg.walk_to.value = WALK_TO
    row('Walk', WALK_N, median_time(pg.walk_button.click, repeats), median_time(lambda: pipe.walk(cap, WALK_TO, n=WALK_N, seed=0, sampling=s, output_type='uint8'), repeats))
    pg.negative.value = NEGATIVE
    row('Generate with a negative caption', n, median_time(pg.generate_button.click, repeats),
        median_time(lambda: pipe([cap] * n, seed=0, sampling=s, negative_caption=NEGATIVE, output_type='uint8'), repeats))
    pg.negative.value = ''
    pg.source.value = 'painted'
    row('Across strengths', len(STRENGTHS), _once(pg.picture_buttons['strengths']))
    row('Ask the critic', 1, _once(pg.picture_buttons['critic']))
    for m, label, k in (('style', 'Every style', 27), ('guidance', 'Guidance sweep', 8), ('trajectory', 'Denoising', min(n, 4)), ('attention', 'Where words act', 1)):
        row(label, k, _once(pg.buttons[m]))
        assert '&#9888;' not in pg.status.value, pg.status.value
    stamp = record(RESULTS, FIELDS, rows)
    print(f"{stamp['machine']}, {stamp['date']}, {stamp['commit']}: model {pipe.name} (step {pipe.step}, {pipe.image_size}px), loaded in {load_s:.2f} s; "
          f"{s.sampler}, {s.steps} steps, guidance {s.guidance_scale:g}\n")
    print('| action | images | seconds | the pipeline alone | ratio |\n|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['action']} | {r['images']} | {r['seconds']:.2f} | " + (' |' if r['library_seconds'] is None else f"{r['library_seconds']:.2f} | {r['ratio']:.2f}x") + ' |')

def _once(button) -> float:
    "Seconds of one click on `button` (the mode's first call is its warm-up: the model and its sampler already are)."
    t = time.perf_counter(); button.click(); return time.perf_counter() - t

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model-path', default=None); ap.add_argument('--repeats', type=int, default=7)
    a = ap.parse_args(); main(a.model_path, a.repeats)
