"""A streaming server that behaves as the issue tracker describes EIR 0.23's own server on the wire (written from that
description, not from EIR's code), to test that our client trains from a server that is not ours:
`info` gives `"shape": null`; `getData` answers batches of its own size (32) whatever was asked; captions may be null or
empty; validation ids are acknowledged but not filtered; `reset` is answered with `resetConfirmation` and broadcast as
`{"type": "reset"}` to every open connection; when its finite source has run dry for `--dry-seconds` it sends
`terminate` and closes; unknown message types get no answer. Pictures come in varied sizes, some with transparency.

    python tests/eir_like_server.py --port 8000 --samples 200
"""
import argparse, asyncio, base64, io, json

import numpy as np
from PIL import Image

BATCH = 32

def picture(i: int) -> str:
    "Base64 of a picture of varied size, mode and format; every fifth is an RGBA PNG with a transparent band."
    r = np.random.default_rng(i)
    w, h = int(r.integers(20, 90)), int(r.integers(20, 90))
    rgb = np.zeros((h, w, 3), np.uint8); rgb[...] = r.integers(0, 256, 3)
    b = io.BytesIO()
    if i % 5 == 0:
        a = np.full((h, w, 1), 255, np.uint8); a[: h // 3] = 0
        Image.fromarray(np.concatenate([rgb, a], -1), 'RGBA').save(b, 'PNG')
    else: Image.fromarray(rgb).save(b, 'JPEG')
    return base64.b64encode(b.getvalue()).decode()

def caption(i: int):
    if i % 7 == 3: return None
    if i % 11 == 5: return ''
    return f"Claude Monet / Water Lilies {i % 9} / Impressionism / landscape / {1890 + i % 30}"

class Server:
    def __init__(self, n: int, dry_seconds: float):
        self.n, self.dry, self.pos, self.clients = n, dry_seconds, 0, set()

    def batch(self) -> list:
        out = []
        for i in range(self.pos, min(self.pos + BATCH, self.n)):
            img = picture(i)
            out.append({'inputs': {'image': img, 'caption': caption(i)}, 'target_labels': {'image': {'image': img}},
                        'sample_id': f"eir-{i}"})
        self.pos += len(out)
        return out

    async def handler(self, ws):
        from websockets.asyncio.server import broadcast
        hello = json.loads(await ws.recv())
        if hello.get('type') != 'handshake' or hello.get('version') != '1.0':
            await ws.send(json.dumps({'type': 'error', 'payload': {'message': 'Incompatible protocol version'}})); return
        await ws.send(json.dumps({'type': 'handshake', 'version': '1.0'}))
        self.clients.add(ws)
        try:
            async for raw in ws:
                msg = json.loads(raw); t = msg.get('type')
                if t == 'getInfo':
                    spec = {'type': 'image', 'shape': None}
                    await ws.send(json.dumps({'type': 'info', 'payload': {'inputs': {'image': spec, 'caption': {'type': 'sequence', 'shape': None}},
                                                                          'outputs': {'image': spec}}}))
                elif t == 'getData':
                    data = self.batch()
                    if not data:
                        await asyncio.sleep(self.dry)                # the cache stays empty: give up on this client
                        await ws.send(json.dumps({'type': 'data', 'payload': ['terminate']})); await ws.close(); return
                    await ws.send(json.dumps({'type': 'data', 'payload': data}))
                elif t == 'setValidationIds':
                    ids = (msg.get('payload') or {}).get('validation_ids', [])
                    await ws.send(json.dumps({'type': 'validationIdsConfirmation', 'payload': {'message': f"Received {len(ids)} validation IDs"}}))
                elif t == 'reset':
                    self.pos = 0
                    await ws.send(json.dumps({'type': 'resetConfirmation', 'payload': {'message': 'Reset successful'}}))
                    broadcast(self.clients, json.dumps({'type': 'reset', 'payload': {'message': 'Reset command received'}}))
                elif t == 'status': await ws.send(json.dumps({'type': 'status', 'payload': {'position': self.pos}}))
                elif t == 'heartbeat': await ws.send(json.dumps({'type': 'heartbeat'}))
                # anything else: no answer
        finally: self.clients.discard(ws)

async def main(port: int, n: int, dry: float):
    from websockets.asyncio.server import serve
    async with serve(Server(n, dry).handler, '127.0.0.1', port, max_size=None):
        print(f"EIR-like server on ws://127.0.0.1:{port}/ws", flush=True)
        await asyncio.Future()

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, default=8000); ap.add_argument('--samples', type=int, default=200)
    ap.add_argument('--dry-seconds', type=float, default=7.0)
    a = ap.parse_args()
    try: asyncio.run(main(a.port, a.samples, a.dry_seconds))
    except KeyboardInterrupt: pass
