"""The caption playground in a real browser: `artdiff playground` serves it through Voila on 127.0.0.1, Playwright drives
Debian's chromium: type a caption, change the style, click Generate, wait for the image, check it is the library's image
for that seed pixel for pixel, then click every explore mode, saving a screenshot of each (to $ARTDIFF_SCREENSHOTS, or
the test's temporary folder). Skipped, with the reason, where chromium or Playwright is missing."""
import base64, io, os, shutil, signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import BIN, free_port, served, chromium, needs_chromium

pytestmark = [needs_chromium, pytest.mark.skipif(shutil.which('voila', path=str(BIN)) is None, reason='Voila is not installed (pip install voila)')]
CAPTION = 'Claude Monet / Blue Harbour at Dusk / Impressionism / landscape / 1880'

@pytest.fixture(scope='module')
def model(request):
    "The shipped model the playground opens by default when it is there (what a user sees), else the session's tiny run."
    from artdiff_nb.pipeline import SHIPPED_MODELS, default_model, is_model_folder
    name = default_model()
    return name if is_model_folder(SHIPPED_MODELS[name]) else str(request.getfixturevalue('tiny_run'))

@pytest.fixture(scope='module')
def playground(model):
    "`artdiff playground` on a free port; Ctrl-C to its process group (Voila and its kernel) on the way out."
    port = free_port()
    with served(BIN / 'artdiff', 'playground', '--model-path', model, '--port', port, '--no-browser', port=port, sig=signal.SIGINT, group=True):
        yield f'http://127.0.0.1:{port}/'

def image_bytes(page) -> bytes:
    b64 = page.evaluate("""async () => { const img = document.querySelector('.widget-image');
        const b = new Uint8Array(await (await fetch(img.src)).arrayBuffer()); let s = '';
        for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192)); return btoa(s); }""")
    return base64.b64decode(b64)

def test_playground_in_chromium(model, playground, tmp_path):
    from artdiff_nb.figures import cell_box
    from artdiff_nb.pipeline import ArtDiffPipeline
    shots = Path(os.environ.get('ARTDIFF_SCREENSHOTS') or tmp_path)
    errors = []
    with chromium() as browser:
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
        page.on('pageerror', lambda e: errors.append(str(e)))
        page.on('requestfailed', lambda r: errors.append(f'request failed: {r.url}'))
        page.goto(playground, timeout=120_000)
        gen = page.get_by_role('button', name='Generate')
        gen.wait_for(timeout=180_000)
        caption = page.locator('.widget-textarea textarea')
        caption.fill(CAPTION.replace('Impressionism', 'Fauvism'))
        field = lambda label: page.locator('.widget-dropdown', has=page.get_by_text(label, exact=True)).locator('select')
        page.wait_for_function("() => document.querySelector('.widget-dropdown select').value === 'Fauvism'", timeout=30_000)
        field('style').select_option('Cubism')                     # the kernel recomposes the caption from the fields
        want = CAPTION.replace('Impressionism', 'Cubism')
        page.wait_for_function(f"() => document.querySelector('.widget-textarea textarea').value === {want!r}", timeout=30_000)
        gen.click()
        page.wait_for_function("() => [...document.querySelectorAll('.widget-html')].some(e => /^4 images in/.test(e.textContent))",
                               timeout=600_000)
        page.screenshot(path=str(shots / 'playground_generate.png'), full_page=True)
        grid = np.asarray(Image.open(io.BytesIO(image_bytes(page))).convert('RGB'))
        lib = ArtDiffPipeline.from_pretrained(model)([want] * 4, seed=0, output_type='uint8').images
        size = lib.shape[1]; scale = max(1, 128 // size)                 # the playground draws a painting 128 screen pixels wide
        for i in range(4):
            l, t, r, b = cell_box(i, 8, size, scale)
            assert (grid[t + 18:b + 18:scale, l:r:scale] == lib[i]).all(), f'image {i} differs from the pipeline'
        for mode, label in (('style', 'Every style'), ('guidance', 'Guidance sweep'), ('trajectory', 'Denoising'),
                            ('attention', 'Where words act'), ('year', 'Across years')):
            before = image_bytes(page)
            page.get_by_role('button', name=label).click()
            page.wait_for_function("() => [...document.querySelectorAll('.widget-html')].some(e => e.textContent.startsWith(%r))" % f'{mode} in',
                                   timeout=600_000)   # a hang guard: 10 s idle, but 3 min when the two cores are shared
            page.wait_for_timeout(300)
            assert image_bytes(page) != before, mode
            page.screenshot(path=str(shots / f'playground_{mode}.png'), full_page=True)
    assert not [e for e in errors if 'favicon' not in e], errors
