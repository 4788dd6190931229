"""Install artdiff_nb and everything it needs into the running interpreter, idempotently.

fastai declares torchvision, which has no CPU build on PyPI: installing it on a CPU-only machine
pulls a CUDA build that breaks `import torchmetrics`. So fastai goes in with --no-deps after its
other requirements (listed in pyproject.toml), and torchvision is never installed here.
"""
import subprocess, sys, tomllib
from pathlib import Path

root = Path(__file__).resolve().parent.parent
proj = tomllib.loads((root/'pyproject.toml').read_text())['project']
cons = root/'requirements'/'constraints.txt'
reqs = proj['dependencies'] + proj['optional-dependencies']['dev']
name = lambda r: r.split('>')[0].split('<')[0].split('=')[0].split('[')[0].strip().lower()
rest = [r for r in reqs if name(r) != 'fastai']
pins = {name(l): l.strip() for l in cons.read_text().splitlines() if l.strip() and not l.startswith('#')}
pip = [sys.executable, '-m', 'pip', 'install', '--quiet']

def run(args, what):
    print(f"installing {what} ...", flush=True)
    r = subprocess.run(pip + args, stderr=subprocess.PIPE, text=True)
    noise = 'is neither a file nor a directory'             # a machine's pip config naming absent local indexes
    sys.stderr.write(''.join(l for l in r.stderr.splitlines(keepends=True) if noise not in l))
    if r.returncode: sys.exit(f"pip failed installing {what} (exit {r.returncode})")

run(['-c', str(cons), pins['torch']], pins['torch'])         # first, so nothing drags in another torch
run(['-c', str(cons)] + rest, "artdiff_nb's requirements")
run(['--no-deps', pins['fastai']], f"{pins['fastai']} (without torchvision)")
run(['--no-deps', '-e', str(root)], 'artdiff_nb (editable)')
