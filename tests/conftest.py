import contextlib, io, json, os, shutil, signal, subprocess, sys
from pathlib import Path

import numpy as np
import pyarrow as pa, pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

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

# ---- training configs and the one trained model
def tiny_config(folder, **changes):
    "The shipped `tiny` preset (16 px, a two-level UNet, a one-layer caption encoder), shorter still, into `folder`, with `changes`."
    from artdiff_nb.config import load_preset
    base = load_preset('tiny').replace(output_folder=str(folder), max_steps=10, checkpoint_interval=5, sample_interval=5, n_sample_captions=2,
                                       data={'batch_size': 8, 'valid_size': 8, 'vocab_sample': 200})
    return base.replace(**changes)

@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
    "One tiny model trained once for the whole session (6 steps, checkpoints at 3 and 6): what the tests that read a model load."
    from artdiff_nb.train import train
    cfg = tiny_config(tmp_path_factory.mktemp('tiny') / 'run', max_steps=6, checkpoint_interval=3, sample_interval=6, n_saved_models=2,
                      sampling={'sampler': 'dpm++2m', 'steps': 4, 'guidance_scale': 2.0})
    return train(cfg, progress=False)

def write_configs(d: Path, iterations=30, interval=5, source='procart', **globals_extra):
    "A tiny run in EIR's five files: 16 px, a two-level UNet, a one-layer caption encoder."
    d.mkdir(parents=True, exist_ok=True)
    g = {'basic_experiment': {'output_folder': str(d / 'run'), 'batch_size': 8, 'valid_size': 16, 'iterations': iterations},
         'optimization': {'lr': 0.002}, 'lr_schedule': {'warmup_steps': 5},
         'evaluation_checkpoint': {'checkpoint_interval': interval, 'sample_interval': interval, 'n_saved_models': 2, 'log_interval': 1},
         'training': {'ema_decay': 0.9, 'n_sample_captions': 2}}
    for k, v in globals_extra.items(): g[k] = v
    files = {
        'globals.yaml': g,
        'inputs_image.yaml': {'input_info': {'input_source': source, 'input_name': 'image', 'input_type': 'image'},
                              'input_type_info': {'size': [16]}},
        'inputs_caption.yaml': {'input_info': {'input_source': source, 'input_name': 'caption', 'input_type': 'sequence'},
                                'input_type_info': {'max_length': 64, 'min_freq': 2, 'vocab_sample': 300},
                                'model_config': {'embedding_dim': 32, 'model_init_config': {'num_layers': 1, 'num_heads': 2}}},
        'fusion.yaml': {'model_type': 'pass-through'},
        'output_image.yaml': {'output_info': {'output_name': 'image', 'output_type': 'image'},
                              'output_type_info': {'loss': 'diffusion', 'prediction_type': 'v_prediction'},
                              'model_config': {'model_type': 'unet', 'model_init_config': {
                                  'widths': [16, 32], 'blocks_per_level': 1, 'attn_levels': [1], 'cross_attn_levels': [1], 'head_dim': 16}},
                              'sampling_config': {'diffusion_sampler': 'dpm++2m', 'diffusion_inference_steps': 5, 'guidance_scale': 1.5}},
    }
    for name, body in files.items(): (d / name).write_text(yaml.safe_dump(body))
    return ['--global_configs', d / 'globals.yaml', '--input_configs', d / 'inputs_image.yaml', d / 'inputs_caption.yaml',
            '--fusion_configs', d / 'fusion.yaml', '--output_configs', d / 'output_image.yaml']


# ---- servers in subprocesses, and the browser
def stop(p, sig=signal.SIGTERM, group: bool = False):
    "Stop server process `p` with `sig` (to its whole process group with `group`), and kill it if it lingers."
    if p.poll() is None:
        os.killpg(p.pid, sig) if group else p.send_signal(sig)
        try: p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL) if group else p.kill()
            p.wait()

def start_server(*cmd, port: int, env=None, timeout: float = 120, group: bool = False):
    "Start server command `cmd` and wait until it listens on 127.0.0.1:`port` (killing it if it never does); stop it with `stop`."
    p = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, **(env or {})}, start_new_session=group)
    try: wait_port(port, p, timeout)
    except BaseException: stop(p, group=group); raise
    return p

@contextlib.contextmanager
def served(*cmd, port: int, env=None, timeout: float = 120, sig=signal.SIGTERM, group: bool = False):
    "Run server command `cmd` until it listens on 127.0.0.1:`port`; yield its process; always stop it (`sig`, then kill)."
    p = start_server(*cmd, port=port, env=env, timeout=timeout, group=group)
    try: yield p
    finally: stop(p, sig, group)

def start_stream(*args, port=None):
    "`artdiff stream` on a free port, listening: (process, port); stop it with `stop`."
    port = port or free_port()
    return start_server(BIN / 'artdiff', 'stream', '--port', port, *args, port=port), port

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync']
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason='no chromium here (apt-get install chromium)')

@contextlib.contextmanager
def chromium():
    "Debian's chromium driven by Playwright (which cannot download its own browsers here); closed on the way out."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try: yield browser
        finally: browser.close()

def hello(ws, version='1.0', worker_id=0):
    ws.send(json.dumps({'type': 'handshake', 'version': version, 'worker_id': worker_id}))
    return json.loads(ws.recv(timeout=10))

def ask_reset(ws):
    "EIR's reset: the confirmation, then the `reset` the server broadcasts to every connection (this one included)."
    confirmation = ask(ws, 'reset')
    assert json.loads(ws.recv(timeout=30))['type'] == 'reset'
    return confirmation

def ask(ws, typ, payload=None):
    ws.send(json.dumps({'type': typ, **({'payload': payload} if payload is not None else {})}))
    return json.loads(ws.recv(timeout=30))


# ---- parquet in both Hub schemas
def jpeg(w, h, seed):
    b = io.BytesIO(); Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(b, 'JPEG')
    return b.getvalue()

def write_fixtures(d: Path):
    "Artificio-like and huggan-like shards: varied sizes and aspect ratios, corrupt images, missing fields."
    img = pa.struct([('bytes', pa.binary()), ('path', pa.string())])
    art = d / 'artificio' / 'data'; art.mkdir(parents=True)
    rows = dict(image=[], title=[], artist=[], date=[], genre=[], style=[])
    for i, (w, h) in enumerate([(300, 200), (64, 400), (50, 50), (640, 480), (20, 90), (200, 200)]):
        rows['image'].append({'bytes': b'not an image' if i == 2 else jpeg(w, h, i), 'path': f'{i}.jpg'})
        rows['title'].append(None if i == 3 else f'Starry Night {i}'); rows['artist'].append('vincent-van-gogh')
        rows['date'].append(['1889', 'c.1890', None, '1905-1910', '', '1888'][i]); rows['genre'].append(None if i == 4 else 'landscape')
        rows['style'].append('Post_Impressionism')
    pq.write_table(pa.table({k: pa.array(v, type=img if k == 'image' else pa.string()) for k, v in rows.items()}), art / 'train-00000-of-00002.parquet')
    pq.write_table(pa.table({k: pa.array(v[:2], type=img if k == 'image' else pa.string()) for k, v in rows.items()}), art / 'train-00001-of-00002.parquet')
    hug = d / 'huggan'; (hug / 'data').mkdir(parents=True)
    t = pa.table({'image': pa.array([{'bytes': jpeg(120, 80, 9), 'path': None}, {'bytes': jpeg(80, 120, 8), 'path': None},
                                     {'bytes': b'\x89PNG broken', 'path': None}], type=img),
                  'artist': [1, 0, 1], 'genre': [0, 1, 1], 'style': [1, 0, 1]})
    pq.write_table(t, hug / 'data' / 'train-00000-of-00001.parquet')
    (hug / 'README.md').write_text("---\ndataset_info:\n  features:\n  - name: image\n    dtype: image\n"
        "  - name: artist\n    dtype:\n      class_label:\n        names:\n          '0': Unknown Artist\n          '1': claude-monet\n"
        "  - name: genre\n    dtype:\n      class_label:\n        names:\n          '0': abstract_painting\n          '1': cityscape\n"
        "  - name: style\n    dtype:\n      class_label:\n        names:\n          '0': Abstract_Expressionism\n          '1': Color_Field_Painting\n"
        "---\n# WikiArt\n")
    return art.parent, hug

