"""`artdiff serve` on a free loopback port with a small trained run: EIR's payload decoded as EIR does, 16 clients at
once batched together, a 4xx with a message for every bad input (never a 500), the request example and the grid."""
import base64, contextlib, io, json, sys, threading
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from conftest import BIN, ROOT, artdiff, free_port, served, run as run_cmd

@contextlib.contextmanager
def serve(model, *extra):
    "`artdiff serve` of `model` on a free port: (its process, its URL); stopped on the way out."
    port = free_port()
    with served(BIN / 'artdiff', 'serve', '--model-path', model, '--port', port, *extra, port=port) as p: yield p, f'http://127.0.0.1:{port}'

@pytest.fixture(scope='module')
def server(tiny_run):
    with serve(tiny_run) as (_, url): yield url

def png_b64(size=(20, 10)):
    b = io.BytesIO(); Image.new('RGB', size, (200, 30, 30)).save(b, 'PNG'); return base64.b64encode(b.getvalue()).decode()

def eir_decode(b64, shape):      # EIR's decoder, as its request example writes it
    arr = np.frombuffer(base64.b64decode(b64), dtype=np.float32).reshape(shape)
    return arr, (np.clip(arr.transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8)

def test_eir_payload_round_trip(server):
    payload = [{'caption': 'Gustav Klimt / Whispers of Gold / Symbolism / portrait / 1904', 'image': png_b64()},
               {'caption': 'Frida Kahlo / Wounded Deer / Surrealism / self-portrait / None', 'image': png_b64()}]
    r = requests.post(f'{server}/predict', json=payload, timeout=120)
    assert r.status_code == 200, r.text
    res = r.json()['result']
    assert len(res) == 2
    for x in res:
        arr, img = eir_decode(x['image'], (3, 16, 16))
        assert arr.dtype == np.float32 and arr.min() >= 0 and arr.max() <= 1 and img.shape == (16, 16, 3)
        assert Image.open(io.BytesIO(base64.b64decode(x['png']))).size == (16, 16) and isinstance(x['seed'], int)
    info = requests.get(f'{server}/info', timeout=10).json()
    assert info['image']['size'] == 16 and info['vocabulary']['size'] > 3 and info['defaults']['sampler'] == 'dpm++2m'
    assert requests.get(f'{server}/health', timeout=10).json()['status'] == 'ok'
    assert requests.get(f'{server}/openapi.json', timeout=10).json()['paths']['/predict']

def test_sixteen_clients_at_once_are_batched(server):
    before = requests.get(f'{server}/health', timeout=10).json()
    out = []
    def one(i):
        r = requests.post(f'{server}/predict', json=[{'caption': f'Claude Monet / Study {i} / Impressionism / landscape / 1890'}],
                          params={'seed': i}, timeout=300)
        out.append((r.status_code, r.json()['result'][0]['seed']))
    ts = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert sorted(out) == [(200, i) for i in range(16)]
    after = requests.get(f'{server}/health', timeout=10).json()
    assert after['images'] - before['images'] == 16 and after['sampler_calls'] - before['sampler_calls'] < 16

BAD = [
    ('[]', {}, 422, 'at least 1'),
    (json.dumps([{'caption': ''}]), {}, 422, 'at least 1 character'),
    (json.dumps([{'caption': '   '}]), {}, 422, 'at least 1 character'),
    (json.dumps([{'caption': 'x' * 100_000}]), {}, 422, 'at most 1000'),
    (json.dumps([{'caption': 12}]), {}, 422, 'valid string'),
    (json.dumps([{'caption': None}]), {}, 422, 'valid string'),
    (json.dumps([{'image': 'abc'}]), {}, 422, 'caption'),
    (json.dumps({'caption': 'x'}), {}, 422, 'list'),
    (json.dumps('x'), {}, 422, 'list'),
    ('{"caption": ', {}, 422, 'malformed JSON'),
    ('not json at all', {}, 422, 'malformed JSON'),
    (json.dumps([{'caption': 'x'}] * 33), {}, 422, 'at most 32'),
    (json.dumps([{'caption': 'x'}]), {'steps': 0}, 422, 'steps'),
    (json.dumps([{'caption': 'x'}]), {'steps': 5000}, 422, 'steps'),
    (json.dumps([{'caption': 'x'}]), {'steps': 'many'}, 422, 'steps'),
    (json.dumps([{'caption': 'x'}]), {'guidance_scale': 'nan'}, 422, 'guidance_scale'),
    (json.dumps([{'caption': 'x'}]), {'guidance_scale': 'inf'}, 422, 'guidance_scale'),
    (json.dumps([{'caption': 'x'}]), {'guidance_scale': -1}, 422, 'guidance_scale'),
    (json.dumps([{'caption': 'x'}]), {'eta': 'NaN'}, 422, 'eta'),
    (json.dumps([{'caption': 'x'}]), {'eta': 2}, 422, 'eta'),
    (json.dumps([{'caption': 'x'}]), {'sampler': 'euler'}, 422, 'sampler'),
    (json.dumps([{'caption': 'x'}]), {'seed': -1}, 422, 'seed'),
    (json.dumps([{'caption': 'x'}]), {'n_images': 100}, 422, 'n_images'),
    (json.dumps([{'caption': 'x' * 900}] * 32) + ' ' * (64 * 2**20), {}, 413, 'larger than'),
]

@pytest.mark.parametrize('body, params, code, msg', BAD, ids=[f'{i}-{c}' for i, (_, _, c, _) in enumerate(BAD)])
def test_bad_input_is_4xx_with_a_message(server, body, params, code, msg):
    r = requests.post(f'{server}/predict', data=body, params=params, headers={'content-type': 'application/json'}, timeout=60)
    assert r.status_code == code and msg in r.json()['detail'], (r.status_code, r.text[:300])

def test_wrong_method_and_path(server):
    assert requests.get(f'{server}/predict', timeout=10).status_code == 405
    assert requests.get(f'{server}/nothing', timeout=10).status_code == 404

def test_bad_model_path_fails_at_start(tmp_path):
    r = artdiff('serve', '--model-path', tmp_path / 'missing', '--port', str(free_port()))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and 'does not exist' in r.stderr
    (tmp_path / 'half').mkdir()
    r = artdiff('serve', '--model-path', tmp_path / 'half', '--port', str(free_port()))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1

def test_timeout_is_503_with_a_message(tiny_run):
    with serve(tiny_run, '--timeout', '0.2') as (_, url):
        r = requests.post(f'{url}/predict', json=[{'caption': 'x'}] * 8, params={'steps': 1000, 'n_images': 4}, timeout=300)
        assert r.status_code == 503 and 'timed out' in r.json()['detail']
        assert requests.get(f'{url}/health', timeout=30).status_code == 200

def test_docs_page_works_offline(server):
    "FastAPI's Swagger page would load its scripts from a CDN: /docs is our own page, and the schema is at /openapi.json."
    r = requests.get(f'{server}/docs', timeout=30)
    assert r.status_code == 200 and '/predict' in r.text and "href='/openapi.json'" in r.text
    assert '<script' not in r.text and 'cdn' not in r.text.lower()
    assert '/predict' in requests.get(f'{server}/openapi.json', timeout=30).json()['paths']

def test_request_example_and_grid(server, tiny_run, tmp_path):
    r = run_cmd(sys.executable, ROOT / 'examples' / 'request_example.py', '--url', server, '--out-dir', tmp_path / 'gen')
    assert r.returncode == 0, r.stderr[-1500:]
    pngs = sorted((tmp_path / 'gen').glob('image_*.png'))
    assert len(pngs) == 4 and Image.open(pngs[0]).size == (64, 64)
    caps = tmp_path / 'caps.txt'; caps.write_text('\n'.join(f'Claude Monet / Study {i} / Impressionism / landscape / 1890' for i in range(10)))
    for cmd in ('grid', 'generate'):
        for src in (['--url', server], ['--model-path', tiny_run]):
            out = tmp_path / 'caption_guided_diffusion_grid.png'
            r = artdiff(cmd, *src, '--captions-file', caps, '--steps', '3', '--out', out)
            assert r.returncode == 0 and out.exists(), r.stderr[-1500:]
            assert Image.open(out).size[0] > 400; out.unlink()
    one = [artdiff('generate', *src, '--caption', 'Claude Monet / Study 1 / Impressionism / landscape / 1890', '--steps', '3', '--seed', '4',
                   '--out', tmp_path / f'{i}.png') for i, src in enumerate((['--url', server], ['--model-path', tiny_run]))]
    assert all(r.returncode == 0 for r in one), [r.stderr for r in one]
    assert (np.asarray(Image.open(tmp_path / '0.png')) == np.asarray(Image.open(tmp_path / '1.png'))).all()   # the server draws what the model draws
    r = artdiff('grid', '--url', 'http://127.0.0.1:9', '--caption', 'x')
    assert r.returncode == 2 and 'cannot reach' in r.stderr
    r = artdiff('grid', '--url', server, '--model-path', tiny_run, '--caption', 'x')
    assert r.returncode == 2 and 'exactly one of --model-path' in r.stderr

# ---- body sizes: EIR's placeholder images pass, a hostile chunked body does not
def rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'): return int(line.split()[1]) / 1024
    return 0.0

def send_chunked(url: str, total: int, chunk: int = 1 << 20) -> tuple[bytes, int]:
    "POST `total` bytes of whitespace in chunks with no Content-Length, stopping as soon as the server answers."
    import select, socket
    host, port = url.split('//')[1].split(':')
    s = socket.create_connection((host, int(port)))
    s.sendall(b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n')
    piece, sent = b'%x\r\n' % chunk + b' ' * chunk + b'\r\n', 0
    while sent < total and not select.select([s], [], [], 0)[0]:
        try: s.sendall(piece)
        except OSError: break
        sent += chunk
    s.settimeout(30); answer = b''
    try:
        while b'\r\n\r\n' not in answer and (d := s.recv(65536)): answer += d
    except OSError: pass
    s.close()
    return answer, sent

def test_a_chunked_gigabyte_is_refused_early_and_memory_stays_flat(tiny_run):
    with serve(tiny_run) as (p, url):
        requests.post(f'{url}/predict', json=[{'caption': 'x'}], params={'steps': 1}, timeout=120)   # warm: the model has run once
        before = rss_mb(p.pid)
        for _ in range(3):
            answer, sent = send_chunked(url, 2**30)
            assert answer.startswith(b'HTTP/1.1 413'), answer[:200]
            assert sent < 256 * 2**20, sent                       # refused long before the gigabyte was sent
        after = rss_mb(p.pid)
        assert after - before < 150, (before, after)              # bounded by the 64 MiB limit, and nothing accumulates
        assert requests.get(f'{url}/health', timeout=30).status_code == 200

def test_eirs_request_example_with_a_real_photo_as_placeholder(server, tmp_path):
    "EIR's request items carry a picture; a phone-photo-sized JPEG (about 4 MB) on every item is served, not refused."
    photo = tmp_path / 'photo.jpg'
    noise = np.random.default_rng(0).integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    Image.fromarray(noise).save(photo, "JPEG", quality=95)
    assert photo.stat().st_size > 3_000_000
    r = run_cmd(sys.executable, ROOT / 'examples' / 'request_example.py', '--url', server, '--out-dir', tmp_path / 'gen', '--image', photo)
    assert r.returncode == 0, r.stderr[-1500:]
    assert len(list((tmp_path / 'gen').glob('image_*.png'))) == 4

def test_negative_captions_are_batched_apart(server, tiny_run):
    "Two clients at once with one seed, one with a negative caption: each gets the pipeline's own image for what it asked."
    from artdiff_nb.pipeline import ArtDiffPipeline
    from artdiff_nb.images import decode_image
    cap, neg = 'Claude Monet / Blue Harbour at Dusk / Impressionism / landscape / 1880', 'Pablo Picasso / Grey Guitar / Cubism / still life / 1912'
    out = {}
    def one(negative):
        params = {'seed': 3, **({'negative_caption': negative} if negative else {})}
        out[negative] = requests.post(f'{server}/predict', json=[{'caption': cap}], params=params, timeout=300).json()['result'][0]['png']
    ts = [threading.Thread(target=one, args=(n,)) for n in ('', neg)]
    for t in ts: t.start()
    for t in ts: t.join()
    pipe = ArtDiffPipeline.from_pretrained(tiny_run)
    assert (decode_image(out['']) == pipe([cap], seed=3, output_type='uint8').images[0]).all()
    assert (decode_image(out[neg]) == pipe([cap], seed=3, negative_caption=neg, output_type='uint8').images[0]).all()
    assert out[''] != out[neg]
