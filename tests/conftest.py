import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

@pytest.fixture(scope='session')
def root(): return ROOT

def run(*args, cwd=ROOT, timeout=300, **kw):
    "Run a command, capturing text output; never raises on a non-zero exit."
    env = {**os.environ, 'MPLBACKEND': 'Agg', **kw.pop('env', {})}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kw)

def artdiff(*args, **kw): return run(BIN/'artdiff', *args, **kw)
