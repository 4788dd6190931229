"""How fast the caption playground answers a click, against the library call it makes (the pipeline's), in one run.

The playground is for playing: one image at the default settings should come back well under a second after the model
is loaded. Measured on the shipped `pretrained` model (or --model-path), median of --repeats clicks, each mode once.
Run: `.venv/bin/python bench/playground.py [--model-path pretrained] [--repeats 7]` with nothing else running.
"""
import argparse, statistics, time

def main(model_path='pretrained', repeats=7):
    from artdiff_nb.playground import Playground
    from artdiff_nb.pipeline import ArtDiffPipeline
    t0 = time.perf_counter(); run = ArtDiffPipeline.from_pretrained(model_path, device='cpu'); load_s = time.perf_counter() - t0
    pg = Playground(run)
    pg.n_images.value = 1
    cap, s = pg.caption.value, pg.settings()
    def timed(f):
        out = []
        for i in range(repeats + 1):
            t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
        return statistics.median(out[1:])                      # the first warms up
    lib = timed(lambda: run([cap], seed=0, sampling=s, output_type='uint8'))
    click = timed(pg.generate_button.click)
    print(f"model {run.name} (step {run.step}, {run.image_size}px), loaded in {load_s:.2f} s; "
          f"{s.sampler}, {s.steps} steps, guidance {s.guidance_scale:g}\n")
    print('| what | seconds | vs the pipeline |\n|---|---|---|')
    print(f"| the pipeline, 1 image (reference) | {lib:.3f} | 1.00x |")
    print(f"| playground Generate click, 1 image | {click:.3f} | {click / lib:.2f}x |")
    for m, label in (('style', 'Every style (27 images)'), ('guidance', 'Guidance sweep (8 images)'), ('trajectory', 'Denoising (1 image)'),
                     ('attention', 'Where words act')):
        if m == 'trajectory': pg.n_images.value = 1
        t = time.perf_counter(); pg.buttons[m].click(); dt = time.perf_counter() - t
        assert '&#9888;' not in pg.status.value, pg.status.value
        print(f"| {label} | {dt:.2f} | |")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model-path', default='pretrained'); ap.add_argument('--repeats', type=int, default=7)
    a = ap.parse_args(); main(a.model_path, a.repeats)
