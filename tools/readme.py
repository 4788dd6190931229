"""Write README.md from index.ipynb, offline (nbdev's own README rendering needs quarto).

Markdown cells are copied; code cells become ```python blocks followed by their text output;
cells marked `#| hide` are left out, and `#|` directives are dropped. `--check` exits 1 if
README.md is out of date instead of writing it.
"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def render(nb_path=root/'index.ipynb') -> str:
    out = []
    for c in json.loads(Path(nb_path).read_text())['cells']:
        src = ''.join(c['source']).strip('\n')
        lines = src.splitlines()
        if any(l.strip() in ('#| hide', '#|hide') for l in lines): continue
        if c['cell_type'] == 'markdown': out.append(src); continue
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
