"""Serving latency and the gain from dynamic batching, against serving the same requests one by one, in one run.

Starts `artdiff serve` on a free loopback port with a trained run (default: the README demo's run), then measures
p50/p95 latency of one-caption requests sent one at a time, and the throughput of 16 concurrent clients against the
same requests sent serially. Run: `.venv/bin/python bench/serve.py --model-path runs/procart-cpu`."""
import argparse, socket, statistics, subprocess, sys, threading, time
from pathlib import Path
import requests

BIN = Path(sys.executable).parent

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def post(url, i):
    t = time.perf_counter()
    r = requests.post(f'{url}/predict', json=[{'caption': f'Claude Monet / Violet Bridge at Dawn {i} / Impressionism / cityscape / 1899'}],
                      params={'seed': i}, timeout=600)
    r.raise_for_status()
    return time.perf_counter() - t

def main(model_path, n_latency=20, clients=16, per_client=2):
    port = free_port()
    p = subprocess.Popen([str(BIN / 'artdiff'), 'serve', '--model-path', model_path, '--port', str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(600):
            try: requests.get(f'{url}/health', timeout=1); break
            except requests.RequestException: time.sleep(0.1)
        info = requests.get(f'{url}/info', timeout=10).json()
        post(url, 0)                                                     # warm
        lat = sorted(post(url, i) for i in range(n_latency))
        n = clients * per_client
        t = time.perf_counter(); [post(url, 1000 + i) for i in range(n)]; serial = n / (time.perf_counter() - t)
        def worker(k): [post(url, 2000 + k * per_client + j) for j in range(per_client)]
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        t = time.perf_counter()
        for th in ts: th.start()
        for th in ts: th.join()
        conc = n / (time.perf_counter() - t)
        d = info['defaults']
        print(f"model: {info['model']['run']} step {info['model']['step']}, {info['image']['size']} px; "
              f"{d['sampler']} {d['steps']} steps, guidance {d['guidance_scale']}; max batch {info['batching']['max_batch']}")
        print('| measure | value |\n|---|---|')
        print(f"| latency, one caption, p50 | {statistics.median(lat) * 1000:.0f} ms |")
        print(f"| latency, one caption, p95 | {lat[int(0.95 * (len(lat) - 1))] * 1000:.0f} ms |")
        print(f"| throughput, {n} requests one by one | {serial:.2f} images/s |")
        print(f"| throughput, {clients} concurrent clients | {conc:.2f} images/s |")
        print(f"| batching gain | {conc / serial:.1f}x |")
    finally:
        p.terminate(); p.wait(30)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--model-path', default='runs/procart-cpu')
    ap.add_argument('--n-latency', type=int, default=20); ap.add_argument('--clients', type=int, default=16)
    a = ap.parse_args(); main(a.model_path, a.n_latency, a.clients)
