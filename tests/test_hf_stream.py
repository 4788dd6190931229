"""The hf:// source runs huggingface_hub's real HfFileSystem code against a loopback Hub (tests/loopback_hub.py) that
answers the Hub API calls HfFileSystem makes (revision, tree, paths-info, ranged resolve) from fixture shards. Nothing is skipped or patched in our code; only the Hub's address differs (HF_ENDPOINT)."""
import os, subprocess

import pytest

from conftest import BIN, free_port, served, write_fixtures, hello, ask
from loopback_hub import LoopbackHub
from websockets.sync.client import connect

REPO, SHA = 'artdiff/wikiart-mini', 'a' * 40

@pytest.fixture
def hub(tmp_path):
    art, _ = write_fixtures(tmp_path / 'fixtures')
    with LoopbackHub() as h:
        h.add_folder('dataset', REPO, art, SHA)
        yield h.url, h.log

def test_hf_source_reads_through_huggingface_hub(hub):
    from huggingface_hub import HfFileSystem
    from artdiff_nb.sources import ParquetSource
    url, log = hub
    src = ParquetSource(f'hf://datasets/{REPO}', image_size=32, fs=HfFileSystem(endpoint=url, token=False), loop=False)
    got = src.samples(100)
    assert len(got) == 7 and src.corrupt == 1
    assert got[0].caption == 'Vincent Van Gogh / Starry Night 0 / Post Impressionism / landscape / 1889'
    assert any('/tree/' in p for _, p, _ in log)                                     # listed through the Hub API
    assert any('/resolve/' in p and r for _, p, r in log)                            # read by byte ranges

def test_artdiff_stream_from_hf_url(hub, tmp_path):
    url, log = hub
    port = free_port()
    env = {**os.environ, 'HF_ENDPOINT': url, 'HF_HUB_DISABLE_TELEMETRY': '1', 'HF_HOME': str(tmp_path / 'hf')}
    env.pop('HF_HUB_OFFLINE', None)
    with served(BIN / 'artdiff', 'stream', '--source', f'hf://datasets/{REPO}', '--port', port, '--image-size', '24', '--no-loop',
                port=port, env=env):
        with connect(f'ws://127.0.0.1:{port}/ws', max_size=None) as ws:
            hello(ws)
            batch = ask(ws, 'getData', {'batch_size': 50})['payload']
            assert len(batch) == 7 and batch[0]['inputs']['caption'].startswith('Vincent Van Gogh / Starry Night 0')
            assert ask(ws, 'status')['payload']['corrupt_skipped'] == 1
    assert any('/resolve/' in path and r for _, path, r in log)

def test_prepare_from_the_hub_with_decode_workers(tmp_path):
    "`artdiff prepare hf://datasets/...` with two worker processes, each reading the Hub itself: WikiArt-shaped data, both sizes of work."
    from artdiff_nb.prepare import wikiart_like
    from artdiff_nb.sources import ParquetSource
    raw = wikiart_like(tmp_path / 'raw', n=16, files=2, long_side=(1200, 1400))
    with LoopbackHub() as h:
        h.add_folder('dataset', REPO, raw, SHA)
        env = {**os.environ, 'HF_ENDPOINT': h.url, 'HF_HUB_DISABLE_TELEMETRY': '1', 'HF_HOME': str(tmp_path / 'hf')}
        env.pop('HF_HUB_OFFLINE', None)
        r = subprocess.run([str(BIN / 'artdiff'), 'prepare', f'hf://datasets/{REPO}', '--size', '32', '--out', str(tmp_path / 'p'),
                            '--workers', '2', '--shards', '2'], capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert any('/resolve/' in path and rng for _, path, rng in h.log)                    # read through byte ranges
        c = subprocess.run([str(BIN / 'artdiff'), 'critic', '--data', f'hf://datasets/{REPO}', '--size', '16', '--valid-size', '4',
                            '--epochs', '1', '--min-count', '1', '--out', str(tmp_path / 'critic')], capture_output=True, text=True, env=env, timeout=300)
        assert c.returncode == 0, c.stderr[-2000:]                                     # a critic straight from the Hub
    assert f'a critic of {REPO} at 16 px, trained on 11 rows; on the 4 held out' in c.stdout, c.stdout
    assert 'prepared 15 rows at 32px into 2 shards' in r.stdout, r.stdout
    local = ParquetSource(raw, 32, loop=False).samples(16)
    prepared = ParquetSource(tmp_path / 'p', 32, loop=False).samples(16)
    assert [s.caption for s in prepared] == [s.caption for s in local] and len(prepared) == 15
