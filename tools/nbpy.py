"""Edit notebooks as plain text: `python tools/nbpy.py to-nb DRAFT.py NB.ipynb` and back with `to-py`.

A draft is a `.py` file whose cells start with `# %%` (code) or `# %% [markdown]` (markdown, written
as plain text, not commented). Drafts are a convenience for editing; the notebooks stay the source.
Outputs are not kept: run `nbdev-test --save NB` afterwards to execute and store them.
"""
import json, sys
from pathlib import Path

def to_nb(draft, nb):
    cells, cur = [], None
    for line in Path(draft).read_text().splitlines():
        if line.startswith('# %%'):
            cur = dict(kind='markdown' if '[markdown]' in line else 'code', lines=[])
            cells.append(cur)
        elif cur is not None: cur['lines'].append(line)
    out = []
    for c in cells:
        src = '\n'.join(c['lines']).strip('\n')
        cell = dict(cell_type=c['kind'], metadata={}, source=src.splitlines(keepends=True))
        if c['kind'] == 'code': cell.update(execution_count=None, outputs=[])
        out.append(cell)
    meta = dict(kernelspec=dict(display_name='python3', language='python', name='python3'))
    Path(nb).write_text(json.dumps(dict(cells=out, metadata=meta, nbformat=4, nbformat_minor=5), indent=1) + '\n')

def to_py(nb, draft):
    parts = []
    for c in json.loads(Path(nb).read_text())['cells']:
        head = '# %% [markdown]' if c['cell_type'] == 'markdown' else '# %%'
        parts.append(head + '\n' + ''.join(c['source']))
    Path(draft).write_text('\n\n'.join(parts) + '\n')

if __name__ == '__main__':
    cmd, src, dst = sys.argv[1:4]
    {'to-nb': to_nb, 'to-py': to_py}[cmd](src, dst)
