"""`artdiff stream` speaks EIR's protocol 1.0 to real clients on loopback: every message type, bad clients that
harm no one, a restart that training waits out, parquet fixtures in both Hub schemas, and training from the stream."""
import io, json, os, signal, subprocess, threading, time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from websockets.sync.client import connect

from conftest import BIN, artdiff, free_port, wait_port, start_stream, stop, hello, ask, write_fixtures

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
        assert ask(ws, 'reset')['type'] == 'resetConfirmation'
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

def test_stream_parquet_end_to_end_counts_corrupt(tmp_path):
    art, _ = write_fixtures(tmp_path)
    p, port = start_stream('--source', art, '--image-size', '24', '--format', 'jpeg', '--no-loop')
    try:
        with connect(f'ws://127.0.0.1:{port}/ws', max_size=None) as ws:
            hello(ws)
            first = ask(ws, 'getData', {'batch_size': 50})['payload']
            assert len(first) == 7
            assert ask(ws, 'getData', {'batch_size': 5})['payload'] == ['terminate']
            assert ask(ws, 'status')['payload']['corrupt_skipped'] == 1
            assert ask(ws, 'reset')['type'] == 'resetConfirmation'
            assert len(ask(ws, 'getData', {'batch_size': 3})['payload']) == 3
    finally: stop(p)

def test_train_from_the_stream(tmp_path):
    from test_train_cli import write_configs
    p, port = start_stream('--image-size', '16')
    try:
        args = write_configs(tmp_path, iterations=10, interval=5)
        for f in ('inputs_image.yaml', 'inputs_caption.yaml'):
            y = __import__('yaml').safe_load((tmp_path / f).read_text())
            y['input_info']['input_source'] = f'ws://127.0.0.1:{port}/ws'
            (tmp_path / f).write_text(__import__('yaml').safe_dump(y))
        g = __import__('yaml').safe_load((tmp_path / 'globals.yaml').read_text())
        g['basic_experiment']['dataloader_workers'] = 2
        (tmp_path / 'globals.yaml').write_text(__import__('yaml').safe_dump(g))
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
