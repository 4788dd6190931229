"""The docs site: `tools/docs.py` builds it from the notebooks with no network; every internal link, anchor and image
resolves; nothing is fetched from the internet; the modules' `Docs:` URLs name pages of the site; and in chromium every
page loads without console errors or broken images, search answers offline, and screenshots of the front page, a notebook
page and the tutorial are saved at 1400 px wide (to $ARTDIFF_SCREENSHOTS, or the test's temporary folder); the playground's
saved widget state is drawn, offline, by the site's own copy of the widget renderer."""
import functools, http.server, os, re, threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit, unquote

import pytest

from conftest import BIN, ROOT, run as run_cmd, chromium, needs_chromium

SITE = ROOT / 'site'

class Refs(HTMLParser):
    "Every id on a page, and every (tag, attribute, url) it refers to."
    def __init__(self):
        super().__init__(); self.ids, self.refs = set(), []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag == 'a' and a.get('name'): self.ids.add(a['name'])
        for k in ('href', 'src'):
            if a.get(k) is not None and not (tag == 'link' and a.get('rel') == 'canonical'): self.refs.append((tag, k, a[k]))

@functools.lru_cache(None)
def parse(page: Path) -> Refs:
    p = Refs(); p.feed(page.read_text(errors='replace')); return p

@pytest.fixture(scope='module')
def site():
    r = run_cmd(BIN / 'python', ROOT / 'tools' / 'docs.py', timeout=1200, env={'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stderr[-3000:]
    return SITE

def test_every_internal_link_anchor_and_image_resolves(site):
    pages = sorted(site.glob('*.html'))
    assert len(pages) >= 28, [p.name for p in pages]
    broken = []
    for page in pages:
        for tag, attr, url in parse(page).refs:
            u = urlsplit(url)
            if u.scheme in ('mailto', 'data', 'javascript') or url.startswith('#') and not url[1:]: continue
            if u.scheme or u.netloc:
                if tag in ('script', 'img', 'link', 'iframe', 'source'):  # fetched by the page: must be local
                    broken.append(f'{page.name}: fetches {url}')
                continue
            path = unquote(u.path)
            if path.startswith('/'): path = path.removeprefix('/artdiff_nb/')     # site-absolute (the 404 page): from the root
            target = (site / path if u.path.startswith('/') else page.parent / path).resolve() if u.path else page
            if target.is_dir(): target = target / 'index.html'
            if not target.exists(): broken.append(f'{page.name}: {tag} {attr}={url} (no {target.relative_to(site.resolve()) if target.is_relative_to(site.resolve()) else target})'); continue
            if u.fragment and target.suffix == '.html' and unquote(u.fragment) not in parse(target).ids:
                broken.append(f'{page.name}: {url} (no anchor #{u.fragment})')
    assert not broken, '\n'.join(broken[:40])

def test_no_page_fetches_from_the_internet(site):
    for f in list(site.rglob('*.css')) + list(site.glob('*.html')):
        text = f.read_text(errors='replace')
        assert not re.search(r'@import\s+url\(["\']?https?:|fonts\.googleapis|fonts\.gstatic', text), f
    for f in site.rglob('*.js'):
        assert 'fonts.googleapis' not in f.read_text(errors='replace'), f

def test_module_docstring_urls_are_pages_of_the_site(site):
    urls = {m.group(1) for f in (ROOT / 'artdiff_nb').glob('*.py')
            for m in [re.search(r'Docs: https://artdiff\.github\.io/artdiff_nb/(\S+?\.html\.md)', f.read_text())] if m}
    assert len(urls) >= 20
    for u in urls:
        assert (site / u).is_file(), u
        assert (site / u.removesuffix('.md')).is_file(), u

def test_api_reference_is_on_the_pages(site):
    html = (site / 'train.html').read_text()
    for name in ('train', 'make_sources', 'make_tokenizer'): assert f'id="{name.lower()}"' in html, name
    html = (site / 'pipeline.html').read_text()
    for name in ('ArtDiffPipeline', 'make_model', 'is_model_folder'): assert f'id="{name.lower()}"' in html, name
    assert 'def make_model(' in re.sub(r'<[^>]+>', '', html)              # the signature, under its syntax colouring
    cli = (site / 'cli-reference.html').read_text()
    for cmd in ('train', 'generate', 'stream', 'serve', 'evaluate', 'export', 'push', 'playground', 'grid', 'sheet'): assert f'artdiff {cmd}' in cli, cmd

@needs_chromium
def test_every_page_in_chromium(site, tmp_path):
    shots = Path(os.environ.get('ARTDIFF_SCREENSHOTS') or tmp_path)
    site_url = re.search(r"SITE_URL = '([^']+)'", (ROOT / 'tools' / 'docs.py').read_text()).group(1)
    prefix = urlsplit(site_url).path.strip('/')                      # served under the published site's base path, as Pages serves it
    (tmp_path / 'www').mkdir(); (tmp_path / 'www' / prefix).symlink_to(site.resolve())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / 'www'))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f'http://127.0.0.1:{server.server_address[1]}/{prefix}/'
    problems = []
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={'width': 1400, 'height': 1000})
            page.on('console', lambda m: problems.append(f'{page.url}: console {m.type}: {m.text}') if m.type == 'error' else None)
            page.on('pageerror', lambda e: problems.append(f'{page.url}: {e}'))
            # a request still in flight when the next page is opened is aborted (net::ERR_ABORTED): that is the test moving on, not a
            # broken page; a missing file answers 404, which the second hook reports
            page.on('requestfailed', lambda r: problems.append(f'{page.url}: request failed {r.url} ({r.failure})') if 'ERR_ABORTED' not in (r.failure or '') else None)
            page.on('response', lambda r: problems.append(f'{page.url}: {r.url} answers {r.status}') if r.status >= 400 else None)
            for f in sorted(site.glob('*.html')):
                page.goto(base + f.name, wait_until='load')
                page.wait_for_timeout(150)
                bad = page.evaluate("() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
                problems += [f'{f.name}: image does not load: {b[:100]}' for b in bad]
            page.goto(base + 'playground-tour.html', wait_until='load')   # the saved playground, drawn from its widget state
            page.wait_for_selector('.jupyter-widgets.widget-vbox img', timeout=30_000)
            drawn = page.evaluate("""() => ({widgets: document.querySelectorAll('.jupyter-widgets').length,
                buttons: [...document.querySelectorAll('.jupyter-widgets button')].map(b => b.textContent.trim()),
                images: [...document.querySelectorAll('.jupyter-widgets img')].map(i => [i.complete, i.naturalWidth])})""")
            assert drawn['widgets'] > 20 and 'Generate' in drawn['buttons'] and 'Every style' in drawn['buttons'], drawn
            assert drawn['images'] and all(ok and w > 100 for ok, w in drawn['images']), drawn
            page.locator('.jupyter-widgets.widget-vbox').first.screenshot(path=str(shots / 'docs_playground_saved.png'))
            for name, file in (('site_front_page', 'index.html'), ('site_notebook_page', 'samplers.html'), ('site_tutorial', 'tutorial.html'),
                               ('site_how_it_works', 'how-it-works.html'), ('site_playground_tour', 'playground-tour.html')):
                page.goto(base + file, wait_until='load'); page.wait_for_timeout(800)
                page.screenshot(path=str(shots / f'{name}.png'))
            page.goto(base + '404.html', wait_until='load')               # the 404 page's links, under the base path
            links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => h.startsWith(location.origin))")
            assert len(links) > 20, links
            problems += [f'404.html: link {h} answers {page.request.get(h).status}' for h in sorted(set(h.split('#')[0] for h in links))
                         if page.request.get(h).status != 200]
            page.goto(base + 'index.html', wait_until='load')             # search, with no network
            page.keyboard.press('/'); page.keyboard.type('guidance')
            page.wait_for_selector('.md-search-result__item', timeout=20_000)
            assert page.locator('.md-search-result__item').count() > 0
    finally: server.shutdown()
    assert not problems, '\n'.join(problems[:30])

def test_a_page_per_command_with_its_output(site):
    "Each command's page ran its worked example when the site was built: the command, and what it printed or drew."
    for cmd, shows in (('sheet', '<img'), ('stream', 'serving procart'), ('prepare', 'prepared'), ('critic', 'critic.json'), ('train', 'training_log.csv'), ('generate', '<img'),
                       ('critique', 'style'), ('evaluate', 'FD-critic'), ('export', 'README.md'), ('push', 'pushed'),
                       ('serve', 'dpm++2m'), ('playground', 'Voila')):
        text = (site / f'command-{cmd}.html').read_text()
        assert f'artdiff {cmd}' in text and shows in text, cmd
