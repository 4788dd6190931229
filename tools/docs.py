"""Build the docs site offline: `make docs` (or `.venv/bin/python tools/docs.py [--serve]`) writes it to `site/`.

The route (no quarto, no network): nbdev's `proc_nbs` turns the notebooks into processed notebooks (`_proc/`: hidden
cells dropped, `show_doc` API reference executed); this script fixes what mkdocs-jupyter cannot read in them, adds the
pages that are not notebooks (tutorial, playground, benchmarks, CLI reference, GPU guide), writes `mkdocs.yml` with the
reading-order navigation, and builds with mkdocs + mkdocs-material. Every page is also written as `NAME.html.md`
(markdown), which is what the `Docs:` links in the modules' docstrings point at, as on nbdev's own sites. nbdev's quarto
configuration (nbs/_quarto.yml, nbs/nbdev.yml) stays, so `nbdev-docs` works where quarto is installed.
"""
import argparse, json, os, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC, SITE = ROOT / '_site_src', ROOT / 'site'
SITE_URL = 'https://artdiff.github.io/artdiff_nb/'
GROUPS = [('Diffusion', range(0, 20)), ('Training a model', range(20, 50)), ('Engineering', range(50, 100))]   # by notebook number: reading order is import order
PAGES = [('Tutorial', 'tutorial.md'), ('How it works: one caption', 'how-it-works.ipynb'), ('The playground, in pictures', 'playground-tour.ipynb'), ('Benchmarks', 'benchmarks.md'),
         ('CLI reference', 'cli-reference.md'), ('WikiArt on a GPU', 'wikiart-gpu.md')]

COMMAND_PAGES = ['sheet', 'stream', 'prepare', 'critic', 'train', 'generate', 'critique', 'evaluate', 'export', 'push', 'serve', 'playground']

def doc_name(nb: Path) -> str: return re.sub(r'^\d+[a-z]?_', '', nb.stem)

def _links(text: str) -> str:
    "Site-absolute links and the notebooks' relative image paths, made relative to the site root."
    text = re.sub(r'\[`(_\w+)`\]\([^)]*#_[\w.]+\)', r'`\1`', text)          # nbdev links private names, which have no docs
    text = text.replace(SITE_URL, '').replace('../docs/images/', 'images/').replace('](docs/images/', '](images/')
    text = re.sub(r'\]\(artdiff_nb/weights/(pretrained[\w-]*)/samples\.png\)', r'](images/\1_samples.png)', text)
    text = re.sub(r'\]\(((?:artdiff_nb|bench|examples|tools|tests)/[^)#]*)\)', r'](https://github.com/artdiff/artdiff_nb/blob/main/\1)', text)  # repo files
    text = re.sub(r'\]\((\w[\w-]*)\.html\.md(#[\w-]+)?\)', r'](\1.html\2)', text)
    return re.sub(r'(\]\([\w-]*\.html#)([\w.]+)\)', lambda m: m.group(1) + m.group(2).replace('.', '') + ')', text)  # nbdev's #Class.method: mkdocs' slug

def _fix(nb: dict, widgets: bool = False) -> dict:
    """The three fixes mkdocs-jupyter needs, plus: show_doc cells in source order, and links that work offline.
    The notebooks' widget state is dropped (nbdev's cleaning leaves none worth drawing), unless `widgets`."""
    cells = []
    for c in nb['cells']:
        c.get('metadata', {}).pop('execution', None)                 # a float nbformat rejects
        src = ''.join(c['source'])
        if c['cell_type'] == 'raw' and src.startswith('---'):         # front matter -> a title and a description
            import yaml
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            c = dict(cell_type='markdown', metadata={}, source=f"# {fm.get('title', '')}\n\n> {fm.get('description', '')}\n")
        elif c['cell_type'] == 'code' and '#| echo: false' in src:
            c['metadata'].setdefault('tags', []).append('remove_input')
        if c['cell_type'] == 'markdown': c['source'] = _links(''.join(c['source']))
        for o in c.get('outputs', []):
            d = o.get('data', {})
            if 'text/markdown' in d:                                  # show_doc: pandoc attributes -> plain markdown
                md = re.sub(r'\{target="_blank"[^}]*\}', '', ''.join(d['text/markdown']))
                d['text/markdown'] = _links(md)
        cells.append(c)
    # nbdev inserts the show_doc cells of one export cell in reverse: put each run back in source order
    line = lambda c: int(m.group(1)) if (m := re.search(r'#L(\d+)\)', json.dumps(c.get('outputs', [])))) else 0
    is_doc = lambda c: c['cell_type'] == 'code' and 'show_doc(' in ''.join(c['source'])
    i = 0
    while i < len(cells):
        j = i
        while j < len(cells) and is_doc(cells[j]): j += 1
        if j > i + 1: cells[i:j] = sorted(cells[i:j], key=line)
        i = max(j, i + 1)
    nb['cells'] = cells
    if not widgets: nb.setdefault('metadata', {}).pop('widgets', None)
    return nb

def _executed(path: Path) -> dict:
    "A page written as a notebook, run in a real kernel with its widgets' state saved, so that the site can draw them."
    import nbformat
    from nbclient import NotebookClient
    import tempfile
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix='artdiff-site-') as scratch:    # the pages' scratch folders go with it
        NotebookClient(nb, timeout=900, kernel_name='python3', store_widget_state=True,
                       resources={'metadata': {'path': str(ROOT)}}).execute(env={**os.environ, 'TMPDIR': scratch})
    return _fix(json.loads(nbformat.writes(nb)), widgets=True)

def _cli_page() -> str:
    exe = Path(sys.executable).parent / 'artdiff'
    run = lambda *a: subprocess.run([str(exe), *a], capture_output=True, text=True, env={'COLUMNS': '100', 'PATH': ''}).stdout
    top = run('--help')
    cmds = re.findall(r'^    (\w+)\s', top.split('COMMAND')[-1], re.M)
    out = ['# CLI reference', '', 'Every `artdiff` command, with its `--help` as the installed package prints it.', '',
           '```text', top.rstrip(), '```', '']
    for c in dict.fromkeys(cmds):
        out += [f'## artdiff {c}', '', '```text', run(c, '--help').rstrip(), '```', '']
    return '\n'.join(out)

def _page(name: str) -> str:
    "A markdown page: from docs/pages/, or built from the repository's own files."
    if name == 'cli-reference.md': return _cli_page()
    if name == 'benchmarks.md':
        text = (ROOT / 'bench' / 'README.md').read_text()
        return _links(text.replace('](../docs/images/', '](images/').replace('](results/', '](https://github.com/artdiff/artdiff_nb/blob/main/bench/results/'))
    return _links((ROOT / 'docs' / 'pages' / name).read_text())

MATHJAX, HTML_MANAGER = '3.2.2', '1.0.15'             # html-manager 1.0 draws the state of ipywidgets 8

def mathjax() -> Path:
    "MathJax's single-file TeX-to-SVG build, fetched once from the npm registry into the virtual environment."
    f = Path(sys.prefix) / 'share' / f'mathjax-{MATHJAX}' / 'tex-svg.js'
    if not f.exists():
        import tarfile, tempfile
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(['npm', 'pack', f'mathjax@{MATHJAX}', '--silent'], cwd=d, check=True, capture_output=True)
            with tarfile.open(Path(d) / f'mathjax-{MATHJAX}.tgz') as t: data = t.extractfile('package/es5/tex-svg.js').read()
        f.parent.mkdir(parents=True, exist_ok=True); f.write_bytes(data)
    return f

def _npm_package(name: str, version: str) -> Path:
    "An npm package's files, fetched once from the npm registry into the virtual environment (`npm pack`, nothing installed)."
    d = Path(sys.prefix) / 'share' / f"{name.replace('/', '-').lstrip('@')}-{version}"
    if not d.exists():
        import tarfile, tempfile
        with tempfile.TemporaryDirectory() as t:
            r = subprocess.run(['npm', 'pack', f'{name}@{version}', '--silent'], cwd=t, check=True, capture_output=True, text=True)
            with tarfile.open(Path(t) / r.stdout.strip().splitlines()[-1]) as tar: tar.extractall(Path(t) / 'x', filter='data')
            shutil.copytree(Path(t) / 'x' / 'package', d)
    return d

def widgets_renderer(dest: Path) -> bool:
    """@jupyter-widgets/html-manager's standalone renderer (`embed.js`, with the control styles and icon fonts it
    bundles) copied to `dest`. Its CSS keeps a commented-out Google Fonts @import: dropped, so that nothing on the
    site even names a font server."""
    try: dist = _npm_package('@jupyter-widgets/html-manager', HTML_MANAGER) / 'dist'
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"no widget renderer ({e}): saved widgets show as text; install npm to fetch it once", file=sys.stderr); return False
    dest.mkdir(parents=True, exist_ok=True)
    for f in dist.iterdir():
        if f.name == 'embed.js' or f.suffix in ('.woff', '.woff2', '.ttf', '.eot', '.svg'): shutil.copy(f, dest)   # not the AMD builds
    js = dest / 'embed.js'
    js.write_text(re.sub(r"/\* @import url\('https://fonts\.googleapis\.com[^)]*\); \*/", '', js.read_text()))
    return True

def build(serve: bool = False) -> Path:
    from nbdev.serve import proc_nbs
    shutil.rmtree(ROOT / '_proc', ignore_errors=True)
    proc_nbs()
    shutil.rmtree(SRC, ignore_errors=True); SRC.mkdir()
    shutil.copytree(ROOT / 'docs' / 'images', SRC / 'images')
    (SRC / 'assets' / 'mathjax').mkdir(parents=True)
    shutil.copy(ROOT / 'docs' / 'overrides' / 'extra.css', SRC / 'assets')
    for model in ('pretrained', 'pretrained-128'):
        if (ROOT / 'artdiff_nb' / 'weights' / model / 'samples.png').exists():
            shutil.copy(ROOT / 'artdiff_nb' / 'weights' / model / 'samples.png', SRC / 'images' / f'{model}_samples.png')
    try: shutil.copy(mathjax(), SRC / 'assets' / 'mathjax' / 'tex-svg.js'); math = True
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"no MathJax ({e}): formulas stay as TeX source; install npm to fetch it once", file=sys.stderr); math = False
    nav, nbs = [{'Home': 'index.ipynb'}], sorted((ROOT / '_proc').glob('*.ipynb'))
    index = _fix(json.loads((ROOT / 'index.ipynb').read_text()))
    from readme import figures, fill                               # tools/readme.py: the figures the front page quotes, from their files
    figs = figures()
    for c in index['cells']:
        if c['cell_type'] == 'markdown': c['source'] = fill(''.join(c['source']), figs)
    (SRC / 'index.ipynb').write_text(json.dumps(index))
    for group, numbers in GROUPS:
        items = []
        for nb in nbs:
            if int(nb.stem[:2]) in numbers:
                d = _fix(json.loads(nb.read_text()))
                (SRC / f'{doc_name(nb)}.ipynb').write_text(json.dumps(d))
                title = next((l[2:] for c in d['cells'] if c['cell_type'] == 'markdown' for l in ''.join(c['source']).splitlines() if l.startswith('# ')), doc_name(nb))
                items.append({title: f'{doc_name(nb)}.ipynb'})
        nav.append({group: items})
    widgets = widgets_renderer(SRC / 'assets' / 'widgets')
    for title, name in PAGES:
        (SRC / name).write_text(json.dumps(_executed(ROOT / 'docs' / 'pages' / name)) if name.endswith('.ipynb') else _page(name))
        nav.append({title: name})
    os.environ['ARTDIFF_ROOT'] = str(ROOT)                          # the push page's loopback Hub lives in tests/
    commands = []
    for name in COMMAND_PAGES:                                      # a page per command: its worked example, run now
        (SRC / f'command-{name}.ipynb').write_text(json.dumps(_executed(ROOT / 'docs' / 'pages' / 'commands' / f'{name}.ipynb')))
        commands.append({f'artdiff {name}': f'command-{name}.ipynb'})
    nav.insert(next(i for i, item in enumerate(nav) if 'CLI reference' in item), {'Commands': commands})
    # mkdocs-jupyter's nbconvert reads the user's nbconvert config: point its widget renderer at our copy
    conf = ROOT / '_site_jupyter'; shutil.rmtree(conf, ignore_errors=True); conf.mkdir()
    if widgets: (conf / 'jupyter_nbconvert_config.json').write_text(json.dumps({'HTMLExporter': {'widget_renderer_url': 'assets/widgets/embed.js'}}))
    cfg = dict(site_name='artdiff_nb', site_url=SITE_URL, site_description='Notebook-first text-to-image diffusion on art',
               docs_dir=str(SRC), site_dir=str(SITE), use_directory_urls=False,   # no repo_url: material would ask api.github.com for stars
               extra_css=['assets/extra.css'], theme=dict(name='material', font=False, custom_dir=str(ROOT / 'docs' / 'overrides'), features=['navigation.sections', 'navigation.top', 'search.highlight', 'content.code.copy'],
                          palette=dict(primary='deep purple', accent='amber')),
               plugins=['search', dict(**{'mkdocs-jupyter': dict(include_source=True, execute=False, include_requirejs=False,
                                                                remove_tag_config=dict(remove_input_tags=['remove_input']))})],
               markdown_extensions=['admonition', 'tables', 'toc', 'pymdownx.superfences'], nav=nav, strict=False, extra=dict(mathjax=math, social=[dict(icon='fontawesome/brands/github', link='https://github.com/artdiff/artdiff_nb')]))
    import yaml
    (ROOT / '_site_src.yml').write_text(yaml.safe_dump(cfg, sort_keys=False))
    subprocess.run([str(Path(sys.executable).parent / 'mkdocs'), 'build' if not serve else 'serve', '-q', '-f', str(ROOT / '_site_src.yml')],
                   check=True, cwd=ROOT, env={**os.environ, 'NO_MKDOCS_2_WARNING': '1', 'JUPYTER_CONFIG_DIR': str(conf)})
    for f in SITE.glob('*.html'):                                   # mkdocs-jupyter's empty MathJax tag: ours is in the head
        f.write_text(f.read_text().replace('<script src=""> </script>', ''))
    _markdown_twins()
    return SITE

def _markdown_twins():
    "NAME.html.md beside every NAME.html built from a notebook or a page: what the modules' `Docs:` links name."
    from nbconvert import MarkdownExporter
    ex = MarkdownExporter(exclude_output=False)
    for f in SRC.iterdir():
        if f.suffix == '.ipynb':
            md, _ = ex.from_filename(str(f))
            md = re.sub(r'!\[(png|svg|jpeg)\]\([^)]*\)', '', md)            # inline output images stay on the HTML page
        elif f.suffix == '.md': md = f.read_text()
        else: continue
        (SITE / f'{f.stem}.html.md').write_text(md)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--serve', action='store_true', help='serve with live reload instead of building once')
    a = ap.parse_args()
    print(f"site built in {build(a.serve)}")
