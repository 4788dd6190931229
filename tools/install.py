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
subprocess.run(pip + ['-c', str(cons), pins['torch']], check=True)  # first, so nothing drags in another torch
subprocess.run(pip + ['-c', str(cons)] + rest, check=True)
subprocess.run(pip + ['--no-deps', pins['fastai']], check=True)
subprocess.run(pip + ['--no-deps', '-e', str(root)], check=True)
