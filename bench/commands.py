"""The README's set-up, timed as a new user meets it: a fresh clone of this repository, then `make install` (the virtual
environment, from pip's cache when it has the wheels), `make demo` (train the CPU preset, draw the unseen captions) and
`make test` (every notebook and pytest suite), one after the other, with nothing else running.

Run: `.venv/bin/python bench/commands.py [--commands "make install" "make demo" "make test"]`
Appends to bench/results/commands.csv (machine, date, commit, command, seconds, ok); the README quotes the newest times.
"""
import argparse, subprocess, tempfile, time
from pathlib import Path

from data import record                               # bench/data.py: one results writer

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ('make install', 'make demo', 'make test')

def main(commands=COMMANDS):
    rows = []
    with tempfile.TemporaryDirectory(prefix='artdiff-clone-') as d:
        subprocess.run(['git', 'clone', '-q', str(ROOT), d], check=True)
        for c in commands:
            t0 = time.perf_counter()
            r = subprocess.run(c.split(), cwd=d)
            rows.append(dict(command=c, seconds=round(time.perf_counter() - t0), ok=r.returncode == 0))
            print(f"{c}: {rows[-1]['seconds'] / 60:.1f} min, {'ok' if r.returncode == 0 else f'failed ({r.returncode})'}", flush=True)
    record(ROOT / 'bench' / 'results' / 'commands.csv', ['machine', 'date', 'commit', 'command', 'seconds', 'ok'], rows)
    return all(r['ok'] for r in rows)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--commands', nargs='+', default=list(COMMANDS), help='the commands, in order (default: %(default)s)')
    raise SystemExit(0 if main(tuple(ap.parse_args().commands)) else 1)
