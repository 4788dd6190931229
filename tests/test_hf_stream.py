"""The hf:// source runs huggingface_hub's real HfFileSystem code against a loopback Hub: a small FastAPI app on
127.0.0.1 that answers the Hub API calls HfFileSystem makes (revision, tree, paths-info, ranged resolve) from
fixture shards. Nothing is skipped or patched in our code; only the Hub's address differs (HF_ENDPOINT)."""
import hashlib, os, re, subprocess, threading
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from conftest import BIN, free_port, wait_port, write_fixtures, hello, ask, stop
from websockets.sync.client import connect

REPO, SHA = 'artdiff/wikiart-mini', 'a' * 40

def fake_hub(root: Path, log: list) -> FastAPI:
    app = FastAPI()
    def entry(p: Path):
        rel = str(p.relative_to(root))
        if p.is_dir(): return {'type': 'directory', 'path': rel, 'oid': '0' * 40}
        return {'type': 'file', 'path': rel, 'size': p.stat().st_size, 'oid': hashlib.sha1(p.read_bytes()).hexdigest()}
    @app.middleware('http')
    async def record(request: Request, call_next):
        log.append((request.method, request.url.path, request.headers.get('range')))
        return await call_next(request)
    @app.get('/api/datasets/{owner}/{name}/revision/{rev}')
    @app.get('/api/datasets/{owner}/{name}')
    def info(owner: str, name: str, rev: str = 'main'):
        if f'{owner}/{name}' != REPO: return JSONResponse({'error': 'Repository not found'}, 404, headers={'X-Error-Code': 'RepoNotFound'})
        return {'id': REPO, 'sha': SHA, 'private': False, 'siblings': [{'rfilename': e['path']} for e in map(entry, root.rglob('*')) if e['type'] == 'file']}
    @app.get('/api/datasets/{owner}/{name}/tree/{rev}/{path:path}')
    @app.get('/api/datasets/{owner}/{name}/tree/{rev}')
    def tree(owner: str, name: str, rev: str, path: str = '', recursive: str = 'false'):
        d = root / path
        if not d.is_dir(): return JSONResponse({'error': 'not found'}, 404, headers={'X-Error-Code': 'EntryNotFound'})
        items = d.rglob('*') if recursive.lower() == 'true' else d.iterdir()
        return [entry(p) for p in sorted(items)]
    @app.post('/api/datasets/{owner}/{name}/paths-info/{rev}')
    async def paths_info(owner: str, name: str, rev: str, request: Request):
        form = await request.form()
        return [entry(root / p) for p in form.getlist('paths') if (root / p).exists()]
    @app.api_route('/datasets/{owner}/{name}/resolve/{rev}/{path:path}', methods=['GET', 'HEAD'])
    def resolve(owner: str, name: str, rev: str, path: str, request: Request):
        f = root / path
        if not f.is_file(): return JSONResponse({'error': 'not found'}, 404, headers={'X-Error-Code': 'EntryNotFound'})
        data = f.read_bytes()
        head = {'ETag': f'"{hashlib.sha1(data).hexdigest()}"', 'X-Repo-Commit': SHA, 'Accept-Ranges': 'bytes'}
        m = re.match(r'bytes=(\d+)-(\d*)', request.headers.get('range') or '')
        if not m: return Response(data if request.method == 'GET' else b'', 200, headers={**head, 'Content-Length': str(len(data))})
        a, b = int(m.group(1)), min(int(m.group(2) or len(data) - 1), len(data) - 1)
        return Response(data[a:b + 1], 206, headers={**head, 'Content-Range': f'bytes {a}-{b}/{len(data)}'})
    return app

@pytest.fixture
def hub(tmp_path):
    art, _ = write_fixtures(tmp_path / 'fixtures')
    log, port = [], free_port()
    server = uvicorn.Server(uvicorn.Config(fake_hub(art, log), host='127.0.0.1', port=port, log_level='warning'))
    t = threading.Thread(target=server.run, daemon=True); t.start()
    wait_port(port)
    yield f'http://127.0.0.1:{port}', log
    server.should_exit = True; t.join(10)

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
    p = subprocess.Popen([str(BIN / 'artdiff'), 'stream', '--source', f'hf://datasets/{REPO}', '--port', str(port),
                          '--image-size', '24', '--no-loop'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_port(port, p)
        with connect(f'ws://127.0.0.1:{port}/ws', max_size=None) as ws:
            hello(ws)
            batch = ask(ws, 'getData', {'batch_size': 50})['payload']
            assert len(batch) == 7 and batch[0]['inputs']['caption'].startswith('Vincent Van Gogh / Starry Night 0')
            assert ask(ws, 'status')['payload']['corrupt_skipped'] == 1
    finally: stop(p)
    assert any('/resolve/' in path and r for _, path, r in log)
