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

def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def wait_port(port: int, proc=None, timeout: float = 60) -> None:
    "Wait until something listens on 127.0.0.1:`port` (failing early if `proc` exits)."
    import socket, time
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0: return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port}")
