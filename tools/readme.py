"""Write README.md from index.ipynb, offline (nbdev's own README rendering needs quarto).

Markdown cells are copied; code cells become ```python blocks followed by their text output;
cells marked `#| hide` are left out, and `#|` directives are dropped. Every figure the README
quotes is a `{{name}}` in the notebook, filled in here from the file that holds it (`figures`):
a shipped model's evaluation and weights, the autoencoder's measurement, a preset, a benchmark's
results file. `--check` exits 1 if README.md is out of date (or a file changed under it) instead
of writing it; the docs site's front page is filled in the same way (tools/docs.py).
"""
import csv, json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
WEIGHTS = root / 'artdiff_nb' / 'weights'
FIELDS = ('style', 'family', 'genre', 'colour', 'time', 'era')

def _pct(v: float) -> str: return f"{100 * v:.1f}%"

def _meta(path: Path) -> dict:
    from safetensors import safe_open
    with safe_open(str(path), 'pt') as f: return f.metadata() or {}

def _model(name: str) -> dict:
    "A shipped model's figures: fidelity and ceiling per field, steps, training minutes, megabytes, image size."
    d, out = WEIGHTS / name, {}
    ev, meta = json.loads((d / 'evaluation.json').read_text()), _meta(d / 'model.safetensors')
    for k in FIELDS: out[f'{name}.{k}'], out[f'{name}.ceiling.{k}'] = _pct(ev['fidelity'][k]), _pct(ev['ceiling'][k])
    out[f'{name}.n'], out[f'{name}.size'] = str(ev['n']), str(ev['image_size'])
    out[f'{name}.steps'], out[f'{name}.minutes'] = f"{int(meta['step']):,}", f"{float(meta['training_seconds']) / 60:.0f}"
    out[f'{name}.mb'] = f"{(d / 'model.safetensors').stat().st_size / 1e6:.1f}"
    return out

def _autoencoder() -> dict:
    "procart-ae's figures: the critic on its reconstructions, per field, and its training minutes."
    info = json.loads(_meta(WEIGHTS / 'procart_ae.safetensors')['info'])
    return {**{f'procart-ae.{k}': _pct(info['fidelity'][k]) for k in FIELDS}, 'procart-ae.minutes': f"{info['train_minutes']:.0f}"}

def _commands() -> dict:
    "The newest measured times of the README's commands (bench/commands.py): minutes, or seconds under a minute and a half."
    p = root / 'bench' / 'results' / 'commands.csv'
    if not p.exists(): return {}
    rows = list(csv.DictReader(p.open()))
    last = {r['command']: r for r in rows}
    took = lambda s: f"{s / 60:.0f} minutes" if s >= 90 else f"{s:.0f} seconds"
    return {f"commands.{c.split()[-1]}": took(float(r['seconds'])) for c, r in last.items()}

def figures() -> dict:
    f = {'demo.steps': re.search(r'^DEMO_STEPS \?= (\d+)', (root / 'Makefile').read_text(), re.M).group(1)}
    for name in ('pretrained', 'pretrained-128'):
        if (WEIGHTS / name / 'evaluation.json').is_file(): f.update(_model(name))
    return {**f, **_autoencoder(), **_commands()}

def fill(text: str, figs: dict) -> str:
    "`text` with every `{{name}}` replaced by its figure; an unknown name is an error, not a blank."
    def one(m):
        if m.group(1) not in figs: raise KeyError(f"index.ipynb quotes {{{{{m.group(1)}}}}}, which no file holds (tools/readme.py figures)")
        return figs[m.group(1)]
    return re.sub(r'\{\{([\w.-]+)\}\}', one, text)

def render(nb_path=root/'index.ipynb') -> str:
    out, figs = [], figures()
    for c in json.loads(Path(nb_path).read_text())['cells']:
        src = ''.join(c['source']).strip('\n')
        lines = src.splitlines()
        if any(l.strip() in ('#| hide', '#|hide') for l in lines): continue
        if c['cell_type'] == 'markdown': out.append(fill(src, figs)); continue
        code = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
        if code: out.append(f"```python\n{code}\n```")
        text = ''.join(''.join(o.get('text', '')) if o['output_type'] == 'stream' else ''.join(o.get('data', {}).get('text/plain', ''))
                       for o in c.get('outputs', []) if o['output_type'] in ('stream', 'execute_result'))
        if text.strip(): out.append(f"```text\n{text.rstrip()}\n```")
    return '<!-- Generated from index.ipynb by tools/readme.py: edit the notebook, not this file. -->\n\n' + '\n\n'.join(out) + '\n'

if __name__ == '__main__':
    text, readme = render(), root/'README.md'
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text() == text
        print('README.md is up to date' if ok else 'README.md is out of date: run `python tools/readme.py`')
        sys.exit(0 if ok else 1)
    readme.write_text(text)
