"""The caption playground in a real browser, where people meet it: `artdiff playground` (Voila) and a notebook in JupyterLab,
both on 127.0.0.1, driven by Playwright in Debian's chromium. In Voila: type a caption, change the style, click Generate,
check each image is the library's for its seed pixel for pixel and shown at its own size; then every explore mode, a
negative caption, img2img from the painter's picture, an uploaded file read by the critic, and a walk with its slider,
saving a screenshot of each (to $ARTDIFF_SCREENSHOTS, or the test's temporary folder). In JupyterLab: open a notebook that
displays the playground, run it, see the placeholder, click Generate, check the pixels. No console errors in either.
Skipped, with the reason, where chromium, Playwright, Voila or JupyterLab is missing."""
import base64, io, os, shutil, signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import BIN, free_port, served, chromium, needs_chromium

pytestmark = [needs_chromium]
needs_voila = pytest.mark.skipif(shutil.which('voila', path=str(BIN)) is None, reason='Voila is not installed (pip install voila)')
needs_lab = pytest.mark.skipif(shutil.which('jupyter-lab', path=str(BIN)) is None, reason='JupyterLab is not installed (pip install jupyterlab)')
CAPTION = 'Claude Monet / Blue Harbour at Dusk / Impressionism / landscape / 1880'
NEGATIVE = 'Claude Monet / Blue Harbour at Night / Impressionism / landscape / 1880'
WALK_TO = 'Andy Warhol / Red Portrait at Noon / Pop Art / portrait / 1965'

@pytest.fixture(scope='module')
def model(request):
    "The shipped model the playground opens by default when it is there (what a user sees), else the session's tiny run."
    from artdiff_nb.pipeline import SHIPPED_MODELS, default_model, is_model_folder
    name = default_model()
    return name if is_model_folder(SHIPPED_MODELS[name]) else str(request.getfixturevalue('tiny_run'))

@pytest.fixture(scope='module')
def pipe(model):
    from artdiff_nb.pipeline import ArtDiffPipeline
    return ArtDiffPipeline.from_pretrained(model)

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

def shown_at_own_size(page) -> bool:
    "Whether the picture is on screen at its own size in pixels (neither stretched to the output's width nor shrunk)."
    return page.evaluate("""() => { const img = document.querySelector('.widget-image');
        return img.naturalWidth > 0 && img.clientWidth === img.naturalWidth && img.clientHeight === img.naturalHeight; }""")

def cells(page, size: int, n: int, first: int = 0, scale: int = 1) -> np.ndarray:
    """Images first .. first+n-1 of the labelled grid on screen, at the model's size: the playground draws 128 screen pixels
    per painting, times `scale`."""
    from artdiff_nb.figures import cell_box
    grid, scale = np.asarray(Image.open(io.BytesIO(image_bytes(page))).convert('RGB')), max(1, 128 // size) * scale
    boxes = [cell_box(i, 8, size, scale) for i in range(first, first + n)]
    return np.stack([grid[t + 18:b + 18:scale, l:r:scale] for l, t, r, b in boxes])       # 18: the title

SRC = "() => document.querySelector('.widget-image').src"

def act(page, click, status: str, shots: Path = None, name: str = None):
    "Click, wait for the picture to change and the status line to start with `status`; screenshot it as playground_`name`.png."
    before = page.evaluate(SRC)
    click()
    page.wait_for_function("([s, old]) => [...document.querySelectorAll('.widget-html')].some(e => e.textContent.startsWith(s))"
                           " && document.querySelector('.widget-image').src !== old", arg=[status, before],
                           timeout=600_000)          # a hang guard: seconds here, minutes when the two cores are shared
    page.wait_for_timeout(300)
    if shots is not None: page.screenshot(path=str(shots / f'playground_{name}.png'), full_page=True)

def watch(page) -> list:
    errors = []
    page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
    page.on('pageerror', lambda e: errors.append(str(e)))
    page.on('requestfailed', lambda r: errors.append(f'request failed: {r.url}'))
    return errors

@needs_voila
def test_playground_in_chromium(pipe, playground, tmp_path):
    from artdiff_nb.procart import render, sample_painting
    from artdiff_nb.critic import evaluation_paintings
    shots = Path(os.environ.get('ARTDIFF_SCREENSHOTS') or tmp_path)
    size = pipe.image_size
    with chromium() as browser:
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        errors = watch(page)
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
        act(page, gen.click, '4 images in', shots, 'generate')
        assert (cells(page, size, 4) == pipe([want] * 4, seed=0, output_type='uint8').images).all(), 'Generate differs from the pipeline'
        assert shown_at_own_size(page)
        for mode, label in (('style', 'Every style'), ('guidance', 'Guidance sweep'), ('trajectory', 'Denoising'),
                            ('attention', 'Where words act'), ('year', 'Across years')):
            act(page, page.get_by_role('button', name=label).click, f'{mode} in', shots, mode)
        assert shown_at_own_size(page)                             # the 27-style grid too: it scrolls, never shrinks

        negative = page.get_by_placeholder('a caption guidance steers away from (empty: none)')
        negative.fill(NEGATIVE); negative.press('Enter')
        act(page, gen.click, '4 images in', shots, 'negative')
        assert (cells(page, size, 4) == pipe([want] * 4, seed=0, negative_caption=NEGATIVE, output_type='uint8').images).all(), 'negative caption'
        negative.fill(''); negative.press('Enter')

        page.get_by_role('button', name='painted', exact=True).click()
        act(page, page.get_by_role('button', name='Repaint').click, 'repaint in', shots, 'repaint')
        start = render(sample_painting(0, 0, ['Cubism'], ['landscape']), size)
        lib = pipe([want] * 4, seed=0, image=start, strength=0.6, output_type='uint8').images
        assert (cells(page, size, 4, first=1) == lib).all(), 'img2img differs from the pipeline'
        act(page, page.get_by_role('button', name='Across strengths').click, 'strengths in', shots, 'strengths')

        p = evaluation_paintings(1)[0]
        Image.fromarray(render(p, 96)).save(tmp_path / 'upload.png')
        caption.fill(p.caption)
        with page.expect_file_chooser() as chooser: page.locator('.widget-upload').click()
        chooser.value.set_files(str(tmp_path / 'upload.png'))
        page.wait_for_function("() => [...document.querySelectorAll('.widget-toggle-button.mod-active')].some(b => b.textContent.trim() === 'uploaded')",
                               timeout=30_000)
        act(page, page.get_by_role('button', name='Ask the critic').click, 'critic in', shots, 'critic')
        reading = page.locator('table').inner_text()
        assert f'{p.genre} ✔' in reading and p.style in reading, reading

        caption.fill(CAPTION)
        page.get_by_placeholder('a second caption: the walk goes from the caption above to this one').fill(WALK_TO)
        act(page, page.get_by_role('button', name='Walk').click, 'walk in', shots, 'walk')
        assert (cells(page, size, 8) == pipe.walk(CAPTION, WALK_TO, n=8, seed=0, output_type='uint8').images).all(), 'the walk differs'
        before = page.evaluate(SRC)
        handle = page.locator('.widget-slider', has=page.get_by_text('along', exact=True)).locator('.noUi-handle')
        handle.focus(); [handle.press('ArrowRight') for _ in range(3)]
        page.wait_for_function("old => document.querySelector('.widget-image').src !== old", arg=before, timeout=30_000)
        page.wait_for_timeout(300)
        assert (cells(page, size, 1, scale=2)[0] == pipe.walk(CAPTION, WALK_TO, n=8, seed=0, output_type='uint8').images[3]).all()
        page.screenshot(path=str(shots / 'playground_walk_slider.png'), full_page=True)
    assert not [e for e in errors if 'favicon' not in e], errors

@needs_lab
def test_playground_in_jupyterlab(model, pipe, tmp_path):
    "A notebook that displays the playground, run in JupyterLab: a placeholder first, then Generate draws the pipeline's images."
    from artdiff_nb.playground import _playground_notebook
    shots = Path(os.environ.get('ARTDIFF_SCREENSHOTS') or tmp_path)
    (tmp_path / 'nb').mkdir(); (tmp_path / 'nb' / 'playground.ipynb').write_text(_playground_notebook(str(model), 'cpu'))
    news = tmp_path / 'settings' / '@jupyterlab' / 'apputils-extension' / 'notification.jupyterlab-settings'
    news.parent.mkdir(parents=True); news.write_text('{"fetchNews": "false"}')           # no question about news over the picture
    port = free_port()
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(tmp_path / 'config'), 'JUPYTER_DATA_DIR': str(tmp_path / 'data'),
           'JUPYTER_RUNTIME_DIR': str(tmp_path / 'runtime')}       # a user's own settings play no part
    cmd = [BIN / 'jupyter-lab', '--no-browser', f'--ServerApp.port={port}', '--ServerApp.ip=127.0.0.1', '--IdentityProvider.token=',
           '--ServerApp.password=', f'--ServerApp.root_dir={tmp_path / "nb"}', '--LabApp.expose_app_in_browser=True',
           '--LabApp.news_url=None', '--allow-root', f'--LabApp.user_settings_dir={tmp_path / "settings"}',
           '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    with served(*cmd, port=port, env=env, timeout=120, sig=signal.SIGTERM, group=True), chromium() as browser:
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        errors = watch(page)
        page.goto(f'http://127.0.0.1:{port}/lab/tree/playground.ipynb', timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=120_000)
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'", timeout=120_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        gen = page.get_by_role('button', name='Generate')
        gen.wait_for(timeout=300_000)
        page.wait_for_function("() => document.querySelector('.widget-image')?.naturalWidth > 0", timeout=30_000)
        assert shown_at_own_size(page)                                  # the placeholder, not a broken image
        page.screenshot(path=str(shots / 'playground_jupyterlab_start.png'))
        act(page, gen.click, '4 images in')
        assert (cells(page, pipe.image_size, 4) == pipe([CAPTION] * 4, seed=0, output_type='uint8').images).all(), 'JupyterLab: not the pipeline'
        assert shown_at_own_size(page)
        page.screenshot(path=str(shots / 'playground_jupyterlab.png'))
    assert not [e for e in errors if 'favicon' not in e], errors
