"""Streaming throughput and memory: samples/s that `artdiff stream` delivers to 1 and 4 clients at 32 and 64 px,
against what CPU training consumes (the CPU preset's measured images/s), and the server's resident memory over a
soak run. Real server process, real clients on loopback, EIR's protocol. Run: `.venv/bin/python bench/stream.py`
(`--soak 300` for the five-minute memory run; `--seconds` per throughput cell; `--sizes 128` for the seed tutorial's size;
`--workers 0 2` for the server's decode workers side by side)."""
import argparse, json, signal, socket, subprocess, sys, threading, time
from pathlib import Path
from websockets.sync.client import connect

BIN = Path(sys.executable).parent
TRAINING_IMAGES_PER_S = 81.1        # bench/train_step.py: ours, fp32, channels_last, batch 64, 32 px

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def rss_mb(pid):
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmRSS'): return int(line.split()[1]) / 1024

def start(size, fmt, source='procart', workers=0):
    port = free_port()
    p = subprocess.Popen([str(BIN / 'artdiff'), 'stream', '--port', str(port), '--image-size', str(size), '--format', fmt, '--source', source,
                          '--workers', str(workers)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0: return p, port
        time.sleep(0.05)
    raise RuntimeError('server did not start')

def client(port, wid, seconds, counts, bs=64):
    with connect(f'ws://127.0.0.1:{port}/ws', max_size=None) as ws:
        ws.send(json.dumps({'type': 'handshake', 'version': '1.0', 'worker_id': wid})); ws.recv()
        end, n = time.time() + seconds, 0
        while time.time() < end:
            ws.send(json.dumps({'type': 'getData', 'payload': {'batch_size': bs}}))
            n += len(json.loads(ws.recv())['payload'])
        counts[wid] = n

def throughput(port, n_clients, seconds):
    counts = {}
    client(port, 99, 1.0, {})                           # warm: the producer's queue fills
    ts = [threading.Thread(target=client, args=(port, i, seconds, counts)) for i in range(n_clients)]
    t0 = time.time()
    for t in ts: t.start()
    for t in ts: t.join()
    return sum(counts.values()) / (time.time() - t0)

def main(seconds, soak, fmt, sizes=(32, 64), source='procart', workers=(0,)):
    print(f"| image size | server decode workers | clients | samples/s delivered | x CPU training's {TRAINING_IMAGES_PER_S:.0f} img/s |")
    print('|---|---|---|---|---|')
    for size in sizes:
        for w in workers:
            p, port = start(size, fmt, source, w)
            try:
                for n in (1, 4):
                    r = throughput(port, n, seconds)
                    print(f'| {size} px | {w or "none (one thread)"} | {n} | {r:,.0f} | {r / TRAINING_IMAGES_PER_S:.1f}x |', flush=True)
            finally: p.send_signal(signal.SIGTERM); p.wait(30)
    if soak:
        p, port = start(32, fmt)
        try:
            mem, stop = [], time.time() + soak
            clients = [threading.Thread(target=client, args=(port, i, soak, {}), daemon=True) for i in range(4)]
            for c in clients: c.start()
            while time.time() < stop:
                mem.append(rss_mb(p.pid)); time.sleep(min(10, max(0.1, stop - time.time())))
            for c in clients: c.join()
            mem.append(rss_mb(p.pid))
            print(f"\nserver memory over {soak:.0f} s with 4 clients at 32 px: start {mem[0]:.0f} MB, after 10 s {mem[1]:.0f} MB, "
                  f"end {mem[-1]:.0f} MB, max {max(mem):.0f} MB ({len(mem)} readings)")
        finally: p.send_signal(signal.SIGTERM); p.wait(10)

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=float, default=10); ap.add_argument('--soak', type=float, default=300)
    ap.add_argument('--format', default='png', choices=('png', 'jpeg'))
    ap.add_argument('--sizes', type=int, nargs='+', default=[32, 64], help='image sizes to measure (default: 32 64)')
    ap.add_argument('--source', default='procart', help='what the server streams, e.g. a folder `artdiff prepare` wrote at the one size given')
    ap.add_argument('--workers', type=int, nargs='+', default=[0], help="the server's decode workers, one row each (default: 0, one thread)")
    a = ap.parse_args(); main(a.seconds, a.soak, a.format, a.sizes, a.source, a.workers)
