"""`artdiff stream` speaks EIR's protocol 1.0 to real clients on loopback: every message type, bad clients that
harm no one, a restart that training waits out, parquet fixtures in both Hub schemas, training from the stream, and
EIR interoperability both ways (EIR's client sequence on our server; our client, and `artdiff train`, on a server like EIR's)."""
import io, json, subprocess, sys, threading, time
from pathlib import Path

import numpy as np
import pyarrow as pa, pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image
from websockets.sync.client import connect

from conftest import artdiff, free_port, wait_port, served, start_stream, stop, hello, ask, ask_reset, write_fixtures, write_configs

@pytest.fixture
def server():
    p, port = start_stream('--image-size', '32')
    yield port
    stop(p)

def test_every_message_type(server):
    with connect(f'ws://127.0.0.1:{server}/ws', max_size=None) as ws:
        assert hello(ws) == {'type': 'handshake', 'version': '1.0'}
        info = ask(ws, 'getInfo')
        assert info['type'] == 'info' and info['payload']['inputs']['image']['type'] == 'image'
        assert info['payload']['inputs']['caption']['type'] == 'sequence' and 'image' in info['payload']['outputs']
        data = ask(ws, 'getData', {'batch_size': 5})
        assert data['type'] == 'data' and len(data['payload']) == 5
        s = data['payload'][0]
        assert s['target_labels']['image']['image'] == s['inputs']['image'] and len(s['inputs']['caption'].split(' / ')) == 5
        im = Image.open(io.BytesIO(__import__('base64').b64decode(s['inputs']['image'])))
        assert im.size == (32, 32)
        ids = [x['sample_id'] for x in data['payload']]
        assert ask(ws, 'setValidationIds', {'validation_ids': ids})['type'] == 'validationIdsConfirmation'
        assert ask_reset(ws)['type'] == 'resetConfirmation'
        again = ask(ws, 'getData', {'batch_size': 20})['payload']
        assert not set(ids) & {x['sample_id'] for x in again}            # validation ids never served again
        st = ask(ws, 'status')
        assert st['type'] == 'status' and st['payload']['validation_ids_count'] == 5 and st['payload']['active_connections'] == 1
        assert ask(ws, 'heartbeat') == {'type': 'heartbeat'}

def test_bad_messages_get_errors_and_the_connection_goes_on(server):
    with connect(f'ws://127.0.0.1:{server}/ws') as ws:
        hello(ws)
        ws.send('{not json'); r = json.loads(ws.recv(timeout=10))
        assert r['type'] == 'error' and 'malformed JSON' in r['payload']['message']
        assert ask(ws, 'fly')['type'] == 'error'
        assert ask(ws, 'getData', {'batch_size': -3})['type'] == 'error'
        ws.send('[1, 2]'); assert json.loads(ws.recv(timeout=10))['type'] == 'error'
        assert ask(ws, 'heartbeat') == {'type': 'heartbeat'}                  # still serving this client

def test_wrong_version_is_refused_and_others_are_served(server):
    with connect(f'ws://127.0.0.1:{server}/ws') as bad:
        r = hello(bad, version='0.9')
        assert r['type'] == 'error' and '1.0' in r['payload']['message']
        with pytest.raises(Exception): bad.recv(timeout=5)                  # closed by the server
    with connect(f'ws://127.0.0.1:{server}/ws', max_size=None) as ws:
        hello(ws); assert len(ask(ws, 'getData', {'batch_size': 2})['payload']) == 2

def test_client_vanishing_mid_batch_harms_no_one(server):
    for _ in range(3):
        with connect(f'ws://127.0.0.1:{server}/ws', max_size=None) as ws:
            hello(ws)
            ws.send(json.dumps({'type': 'getData', 'payload': {'batch_size': 256}})); ws.socket.close()   # gone without a goodbye
    clients = [connect(f'ws://127.0.0.1:{server}/ws', max_size=None).__enter__() for _ in range(4)]
    got = []
    def run(ws, i):
        hello(ws, worker_id=i); got.append({x['sample_id'] for x in ask(ws, 'getData', {'batch_size': 8})['payload']})
    ts = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(clients)]
    for t in ts: t.start()
    for t in ts: t.join(30)
    assert len(got) == 4 and len(set().union(*got)) == 32                    # four workers, disjoint samples
    deadline = time.time() + 20                                               # the vanished ones are noticed and dropped
    while sorted(ask(clients[0], 'status')['payload']['workers']) != [0, 1, 2, 3]:
        assert time.time() < deadline, ask(clients[0], 'status')
        time.sleep(0.2)
    for c in clients: c.close()

def test_training_source_waits_out_a_server_restart():
    from artdiff_nb.stream import WebSocketSource
    p, port = start_stream('--image-size', '16')
    src = WebSocketSource(f'ws://127.0.0.1:{port}/ws', retry_for=60)
    assert len(src.samples(4)) == 4
    p.kill(); p.wait()
    box = {}
    threading.Timer(1.5, lambda: box.setdefault('p', start_stream('--image-size', '16', port=port)[0])).start()
    try:
        t0 = time.time(); got = src.samples(4)                                # blocks, reconnects, continues
        assert len(got) == 4 and src.reconnects >= 1 and time.time() - t0 >= 1
    finally:
        src.close(); time.sleep(0.2)
        if 'p' in box: stop(box['p'])

# ---- parquet in both Hub schemas
def test_parquet_sources_map_both_schemas(tmp_path):
    from artdiff_nb.sources import ParquetSource
    art, hug = write_fixtures(tmp_path)
    s = ParquetSource(art, image_size=32, loop=False)
    got = s.samples(100)
    assert len(got) == 7 and s.corrupt == 1 and all(x.image.shape == (32, 32, 3) for x in got)
    caps = [x.caption for x in got]
    assert caps[0] == 'Vincent Van Gogh / Starry Night 0 / Post Impressionism / landscape / 1889'
    assert caps[1].endswith('/ 1890') and caps[2].split(' / ')[1] == 'None' and caps[2].endswith('1905')
    assert caps[3].split(' / ')[3:] == ['None', 'None']                      # missing genre, empty date
    h = ParquetSource(hug, image_size=16, loop=False)
    hc = [x.caption for x in h.samples(10)]
    assert hc == ['Claude Monet / None / Color Field Painting / abstract painting / None',
                  'None / None / Abstract Expressionism / cityscape / None'] and h.corrupt == 1

@pytest.mark.parametrize('workers', [0, 2])
def test_stream_parquet_end_to_end_counts_corrupt(tmp_path, workers):
    "The same, whether one thread decodes or two worker processes do."
    art, _ = write_fixtures(tmp_path)
    p, port = start_stream('--source', art, '--image-size', '24', '--format', 'jpeg', '--no-loop', '--workers', workers)
    try:
        with connect(f'ws://127.0.0.1:{port}/ws', max_size=None) as ws:
            hello(ws)
            first = ask(ws, 'getData', {'batch_size': 50})['payload']
            assert len(first) == 7
            assert ask(ws, 'getData', {'batch_size': 5})['payload'] == ['terminate']
            assert ask(ws, 'status')['payload']['corrupt_skipped'] == 1
            assert ask_reset(ws)['type'] == 'resetConfirmation'
            assert len(ask(ws, 'getData', {'batch_size': 3})['payload']) == 3
    finally: stop(p)
    assert p.returncode == 0, p.stderr.read()[-2000:]                     # stopped cleanly, its workers with it

def test_train_from_the_stream(tmp_path):
    p, port = start_stream('--image-size', '16')
    try:
        args = write_configs(tmp_path, iterations=10, interval=5, source=f'ws://127.0.0.1:{port}/ws')
        g = yaml.safe_load((tmp_path / 'globals.yaml').read_text())
        g['basic_experiment']['dataloader_workers'] = 2
        (tmp_path / 'globals.yaml').write_text(yaml.safe_dump(g))
        r = artdiff('train', *args, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert (tmp_path / 'run' / 'checkpoints' / 'step_0000010').exists()
    finally: stop(p)

def test_stream_cli_errors(tmp_path):
    r = artdiff('stream', '--source', tmp_path / 'nothing-here', '--port', str(free_port()))
    assert r.returncode == 2 and 'no parquet files' in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = artdiff('stream', '--image-size', '4')
    assert r.returncode == 2 and 'image-size' in r.stderr

def test_parquet_augment_mirrors_some_images(tmp_path):
    from artdiff_nb.sources import ParquetSource
    art, _ = write_fixtures(tmp_path)
    plain = ParquetSource(art, image_size=32, loop=False).samples(100)
    aug = ParquetSource(art, image_size=32, loop=False, augment=True, seed=1).samples(100)
    assert [s.caption for s in plain] == [s.caption for s in aug]
    flipped = [(a.image == p.image[:, ::-1]).all() and not (a.image == p.image).all() for a, p in zip(aug, plain)]
    kept = [(a.image == p.image).all() for a, p in zip(aug, plain)]
    assert any(flipped) and any(kept) and all(f or k for f, k in zip(flipped, kept))

# ---- EIR interoperability (issue: EIR's client on our server, our client on a server like EIR's)
def test_parquet_rows_with_slashes_and_transparency_are_served(tmp_path):
    "A '/' inside artist, style or genre keeps the caption parseable; a transparent picture lands on white; no row is lost."
    from artdiff_nb.captions import Caption
    from artdiff_nb.sources import ParquetSource
    b = io.BytesIO(); rgba = np.zeros((20, 20, 4), np.uint8); rgba[:10] = (200, 0, 0, 255)
    Image.fromarray(rgba, 'RGBA').save(b, 'PNG')
    img = pa.struct([('bytes', pa.binary()), ('path', pa.string())])
    rows = {'image': [{'bytes': b.getvalue(), 'path': 'a.png'}] * 3, 'title': ['A / B', 'Plain', None],
            'artist': ['AC/DC', 'claude-monet', 'x'], 'style': ['Naive_Art/Primitivism', 'Impressionism', 'Realism'],
            'genre': ['still/life', 'landscape', None], 'date': ['1900', None, '1901']}
    pq.write_table(pa.table({k: pa.array(v, type=img if k == 'image' else pa.string()) for k, v in rows.items()}), tmp_path / 's.parquet',
                   row_group_size=3)
    got = ParquetSource(tmp_path / 's.parquet', image_size=16, loop=False).samples(10)
    assert len(got) == 3
    c = Caption.parse(got[0].caption)
    assert (c.artist, c.title, c.style, c.genre) == ('AC DC', 'A / B', 'Naive Art Primitivism', 'still life')
    assert got[0].image[-1, -1].tolist() == [255, 255, 255] and got[0].image[0, 0].tolist()[0] > 150

def test_eir_client_sequence_against_artdiff_stream(tmp_path):
    """EIR's trainer-side set-up, with EIR's client library (websocket-client) and EIR's habit of one connection per
    phase: gather (handshake, status, getInfo, set-up getData, reset read as two messages, status), send validation
    ids, then train (getData). Each connection's cost is printed; the whole sequence must finish, not hang."""
    import websocket                                            # the client library EIR uses
    p, port = start_stream('--image-size', '128')
    url, times = f'ws://127.0.0.1:{port}/ws', {}
    def open_(worker=0):
        ws = websocket.create_connection(url, max_size=10_000_000, skip_utf8_validation=True); ws.settimeout(30)
        ws.send(json.dumps({'type': 'handshake', 'version': '1.0', 'worker_id': worker}))
        assert json.loads(ws.recv())['type'] == 'handshake'
        return ws
    def say(ws, msg): ws.send(json.dumps(msg)); return json.loads(ws.recv())
    try:
        t0 = time.perf_counter(); ws = open_()
        assert say(ws, {'type': 'status'})['type'] == 'status'
        assert say(ws, {'type': 'getInfo'})['payload']['inputs']['image']['type'] == 'image'
        setup = say(ws, {'type': 'getData', 'payload': {'batch_size': 64}})['payload']
        assert len(setup) == 64
        assert say(ws, {'type': 'reset'})['type'] == 'resetConfirmation'
        assert json.loads(ws.recv())['type'] == 'reset'           # EIR's client reads a second message after its reset
        assert say(ws, {'type': 'status'})['type'] == 'status'
        ws.close(); times['gather'] = time.perf_counter() - t0
        t0 = time.perf_counter(); ws = open_()
        ids = [s['sample_id'] for s in setup[:16]]
        assert say(ws, {'type': 'setValidationIds', 'payload': {'validation_ids': ids}})['type'] == 'validationIdsConfirmation'
        ws.close(); times['validation ids'] = time.perf_counter() - t0
        t0 = time.perf_counter(); ws = open_(worker=1)
        batch = say(ws, {'type': 'getData', 'payload': {'batch_size': 32}})['payload']
        assert len(batch) == 32 and not set(ids) & {s['sample_id'] for s in batch}
        ws.close(); times['train batch'] = time.perf_counter() - t0
        t0 = time.perf_counter(); ws = open_(); ws.close(); times['bare connection'] = time.perf_counter() - t0
    finally: stop(p)
    print('EIR client sequence against artdiff stream (s):', {k: round(v, 3) for k, v in times.items()})

@pytest.fixture
def eir_like():
    port = free_port()
    with served(sys.executable, Path(__file__).parent / 'eir_like_server.py', '--port', port, '--samples', 200, '--dry-seconds', 0.5, port=port):
        yield f'ws://127.0.0.1:{port}/ws'

def test_our_client_reads_a_server_like_eirs(eir_like):
    from artdiff_nb.stream import WebSocketSource
    with pytest.raises(ValueError, match='shape null'): WebSocketSource(eir_like)
    src = WebSocketSource(eir_like, image_size=16, retry_for=30)
    valid = src.samples(10)
    assert len(valid) == 10 and all(s.image.shape == (16, 16, 3) for s in valid)
    src.skip(s.sample_id for s in valid)
    seen = [s for _ in range(30) for s in src.samples(8)]              # 240 > 200: the source runs dry, terminates, closes
    assert len(seen) == 240 and not {s.sample_id for s in valid} & {s.sample_id for s in seen}
    assert src.empty_captions > 0 and '' in {s.caption for s in seen} and src.reconnects >= 1
    src.reset(); assert len(src.samples(5)) == 5                      # never one answer behind the broadcasts
    src.close()

def test_train_from_an_eir_like_server(tmp_path, eir_like):
    args = write_configs(tmp_path, iterations=10, interval=5, source=eir_like)
    r = artdiff('train', *args, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / 'run' / 'checkpoints' / 'step_0000010').is_dir()

def test_wikiart_128_preset_trains_from_a_live_stream(tmp_path):
    """The seed tutorial's own five files, with only batch, steps, validation size, device, compile (and the port) changed,
    and no sample grid: at 128 px its 200 guided DDIM steps through the 90 M-parameter UNet take ~20 minutes on 2 CPU cores."""
    from artdiff_nb.config import preset_paths
    p, port = start_stream('--image-size', '128')
    try:
        files = preset_paths('wikiart-128-eir')
        paths = [files['global_configs'], *files['input_configs'], files['fusion_configs'], files['output_configs']]
        for src in paths: (tmp_path / src.name).write_text(src.read_text())
        g = yaml.safe_load((tmp_path / 'globals.yaml').read_text())
        g['basic_experiment'].update(batch_size=2, iterations=2, valid_size=2, device='cpu', output_folder=str(tmp_path / 'run'))
        g['model']['compile_model'] = False
        g.setdefault('training', {})['n_sample_captions'] = 0
        (tmp_path / 'globals.yaml').write_text(yaml.safe_dump(g))
        for f in ('inputs_image.yaml', 'inputs_caption.yaml'):
            y = yaml.safe_load((tmp_path / f).read_text())
            y['input_info']['input_source'] = y['input_info']['input_source'].replace('localhost:8000', f'127.0.0.1:{port}')
            (tmp_path / f).write_text(yaml.safe_dump(y))
        r = artdiff('train', '--global_configs', tmp_path / 'globals.yaml', '--input_configs', tmp_path / 'inputs_image.yaml',
                    tmp_path / 'inputs_caption.yaml', '--fusion_configs', tmp_path / 'fusion.yaml', '--output_configs',
                    tmp_path / 'output_image.yaml', timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        assert (tmp_path / 'run' / 'checkpoints' / 'step_0000002').is_dir()
        import csv
        with open(tmp_path / 'run' / 'training_log.csv') as f: rows = list(csv.DictReader(f))
        assert [r['step'] for r in rows if r['valid_loss']] == ['2']                     # validated at the last step
    finally: stop(p)
