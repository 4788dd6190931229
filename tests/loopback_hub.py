"""A loopback Hugging Face Hub: a FastAPI app on 127.0.0.1 that answers the Hub API calls huggingface_hub makes to read
and write repos, so our code runs huggingface_hub's real client code against it (only HF_ENDPOINT / endpoint differs).

Reading: repo and revision info, tree listings, paths-info, and `resolve` downloads with byte ranges (what HfFileSystem,
hf_hub_download and snapshot_download call). Writing: create_repo, validate-yaml, preupload and the NDJSON commit (what
upload_folder calls); every file is committed inline ("regular" upload mode), so no LFS or Xet storage is needed.
Writes need a bearer token, as on the real Hub. Repos keep every commit, so any commit id is a revision."""
import base64, hashlib, json, re, threading
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

def _err(code: str, msg: str, status: int = 404): return JSONResponse({'error': msg}, status, headers={'X-Error-Code': code})
def _sha1(b: bytes) -> str: return hashlib.sha1(b).hexdigest()

class LoopbackHub:
    "Repos in memory: {(kind, 'owner/name'): {'commits': {sha: {path: bytes}}, 'refs': {'main': sha}}}; `log` records requests."
    def __init__(self):
        self.repos, self.log, self.url = {}, [], None

    def add(self, kind: str, repo_id: str, files: dict, sha: str | None = None) -> str:
        "Commit `files` ({path: bytes}) to `repo_id` ('model' or 'dataset'), creating it; returns the commit id."
        r = self.repos.setdefault((kind, repo_id), {'commits': {}, 'refs': {}})
        prev = r['commits'].get(r['refs'].get('main'), {})
        sha = sha or _sha1(json.dumps([len(r['commits']), sorted((p, _sha1(b)) for p, b in files.items())]).encode())
        r['commits'][sha] = {**prev, **files}; r['refs']['main'] = sha
        return sha

    def add_folder(self, kind: str, repo_id: str, root: Path, sha: str | None = None) -> str:
        return self.add(kind, repo_id, {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file()}, sha)

    def _files(self, kind, repo_id, rev):
        "(sha, files) at `rev` (a branch or a commit id), or an error response."
        r = self.repos.get((kind, repo_id))
        if r is None: return _err('RepoNotFound', 'Repository not found')
        sha = r['refs'].get(rev, rev)
        if sha not in r['commits']: return _err('RevisionNotFound', f'Invalid rev id: {rev}')
        return sha, r['commits'][sha]

    def app(self) -> FastAPI:
        app, hub = FastAPI(), self
        def entries(files: dict, prefix: str = '', recursive: bool = True):
            dirs, out = set(), []
            for p, b in sorted(files.items()):
                if prefix and not p.startswith(prefix + '/'): continue
                rest = p[len(prefix) + 1:] if prefix else p
                parts = rest.split('/')
                for i in range(1, len(parts) if recursive else min(2, len(parts))):
                    d = '/'.join(([prefix] if prefix else []) + parts[:i])
                    if d not in dirs: dirs.add(d); out.append({'type': 'directory', 'path': d, 'oid': '0' * 40})
                if recursive or len(parts) == 1: out.append({'type': 'file', 'path': p, 'size': len(b), 'oid': _sha1(b)})
            return out

        @app.middleware('http')
        async def record(request: Request, call_next):
            hub.log.append((request.method, request.url.path, request.headers.get('range')))
            return await call_next(request)

        def writer(request: Request):
            if not request.headers.get('authorization', '').startswith('Bearer '): return _err('Unauthorized', 'Invalid credentials', 401)

        @app.post('/api/repos/create')
        async def create(request: Request):
            if (e := writer(request)): return e
            d = await request.json()
            kind, repo_id = d.get('type') or 'model', f"{d['organization']}/{d['name']}"
            if (kind, repo_id) in hub.repos: return _err('RepoExists', 'You already created this repo', 409)
            hub.repos[(kind, repo_id)] = {'commits': {'0' * 40: {}}, 'refs': {'main': '0' * 40}}
            return {'url': f"{hub.url}/{'' if kind == 'model' else kind + 's/'}{repo_id}"}

        @app.post('/api/validate-yaml')
        async def validate_yaml(request: Request): return {}

        for kind in ('model', 'dataset'):
            base = f'/api/{kind}s/{{owner}}/{{name}}'
            def info(owner: str, name: str, rev: str = 'main', kind=kind):
                got = hub._files(kind, f'{owner}/{name}', rev)
                if isinstance(got, Response): return got
                sha, files = got
                return {'id': f'{owner}/{name}', 'sha': sha, 'private': False, 'siblings': [{'rfilename': p} for p in sorted(files)]}
            app.get(base)(info); app.get(base + '/revision/{rev:path}')(info)

            def tree(owner: str, name: str, rev: str, path: str = '', recursive: str = 'false', kind=kind):
                got = hub._files(kind, f'{owner}/{name}', rev)
                if isinstance(got, Response): return got
                path = path.strip('/')
                if path and not any(p.startswith(path + '/') for p in got[1]): return _err('EntryNotFound', 'not found')
                return entries(got[1], path, recursive.lower() == 'true')
            app.get(base + '/tree/{rev}/{path:path}')(tree); app.get(base + '/tree/{rev}')(tree)

            async def paths_info(owner: str, name: str, rev: str, request: Request, kind=kind):
                got = hub._files(kind, f'{owner}/{name}', rev)
                if isinstance(got, Response): return got
                form, all_ = await request.form(), entries(got[1])
                return [e for e in all_ if e['path'] in form.getlist('paths')]
            app.post(base + '/paths-info/{rev}')(paths_info)

            async def preupload(owner: str, name: str, rev: str, request: Request, kind=kind):
                if (e := writer(request)): return e
                got = hub._files(kind, f'{owner}/{name}', rev)
                if isinstance(got, Response): return got
                files = got[1]
                return {'files': [{'path': f['path'], 'uploadMode': 'regular', 'shouldIgnore': False,
                                   'oid': _sha1(files[f['path']]) if f['path'] in files else None} for f in (await request.json())['files']]}
            app.post(base + '/preupload/{rev}')(preupload)

            async def commit(owner: str, name: str, rev: str, request: Request, kind=kind):
                if (e := writer(request)): return e
                if isinstance(got := hub._files(kind, f'{owner}/{name}', rev), Response): return got
                lines = [json.loads(l) for l in (await request.body()).splitlines() if l.strip()]
                if any(l['key'] != 'header' and l['key'] != 'file' for l in lines): return _err('BadRequest', 'only inline files here', 400)
                sha = hub.add(kind, f'{owner}/{name}', {l['value']['path']: base64.b64decode(l['value']['content']) for l in lines if l['key'] == 'file'})
                return {'commitUrl': f"{hub.url}/{owner}/{name}/commit/{sha}", 'commitOid': sha, 'pullRequestUrl': None}
            app.post(base + '/commit/{rev:path}')(commit)

            def resolve(owner: str, name: str, rev: str, path: str, request: Request, kind=kind):
                got = hub._files(kind, f'{owner}/{name}', rev)
                if isinstance(got, Response): return got
                sha, files = got
                if path not in files: return _err('EntryNotFound', 'Entry not found')
                data = files[path]
                head = {'ETag': f'"{_sha1(data)}"', 'X-Repo-Commit': sha, 'Accept-Ranges': 'bytes'}
                m = re.match(r'bytes=(\d+)-(\d*)', request.headers.get('range') or '')
                if not m: return Response(data if request.method == 'GET' else b'', 200, headers={**head, 'Content-Length': str(len(data))})
                a, b = int(m.group(1)), min(int(m.group(2) or len(data) - 1), len(data) - 1)
                return Response(data[a:b + 1], 206, headers={**head, 'Content-Range': f'bytes {a}-{b}/{len(data)}'})
            prefix = '' if kind == 'model' else '/datasets'
            app.api_route(prefix + '/{owner}/{name}/resolve/{rev}/{path:path}', methods=['GET', 'HEAD'])(resolve)
        return app

    def __enter__(self):
        from conftest import free_port, wait_port
        port = free_port()
        self.url = f'http://127.0.0.1:{port}'
        self.server = uvicorn.Server(uvicorn.Config(self.app(), host='127.0.0.1', port=port, log_level='warning'))
        self.thread = threading.Thread(target=self.server.run, daemon=True); self.thread.start()
        wait_port(port)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True; self.thread.join(10)
