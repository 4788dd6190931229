"""Sharing models: `artdiff push` uploads a run through huggingface_hub's create_repo and upload_folder, and
`--model-path hf://OWNER/NAME[@REVISION]` downloads it through snapshot_download, for generate, evaluate, serve and
load_run, against a loopback Hub (tests/loopback_hub.py); the download is cached and HF_HUB_OFFLINE=1 is respected.
And the model shipped with the package, `pretrained`, loads offline with no training."""
import json, os, signal, subprocess

import numpy as np
import pytest
import requests
from PIL import Image

from conftest import BIN, artdiff, run as run_cmd, free_port, wait_port, tiny_config
from loopback_hub import LoopbackHub

CAPTION = 'Claude Monet / Pale Water Lilies at Dusk / Impressionism / landscape / 1899'

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    from artdiff_nb.train import train
    d = tmp_path_factory.mktemp('hub')
    cfg = tiny_config(d / 'run', max_steps=6, checkpoint_interval=3, sample_interval=6, n_sample_captions=2, n_saved_models=2,
                      sampling={'sampler': 'dpm++2m', 'steps': 4, 'guidance_scale': 2.0})
    return train(cfg, progress=False)

@pytest.fixture
def hub(tmp_path):
    with LoopbackHub() as h:
        h.env = {'HF_ENDPOINT': h.url, 'HF_TOKEN': 'hf_loopback', 'HF_HOME': str(tmp_path / 'hf'), 'HF_HUB_DISABLE_TELEMETRY': '1',
                 'HF_HUB_OFFLINE': '0'}
        yield h

def python(code, env, **kw): return run_cmd(BIN / 'python', '-c', code, env=env, **kw)

def png(path): return np.asarray(Image.open(path).convert('RGB'))

def test_push_then_use_from_the_hub(trained, hub, tmp_path):
    r = artdiff('push', '--model-path', trained, '--repo', 'me/tiny', '--n', '8', env=hub.env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert 'use it anywhere with --model-path hf://me/tiny' in r.stdout
    files = hub.repos[('model', 'me/tiny')]['commits'][hub.repos[('model', 'me/tiny')]['refs']['main']]
    assert set(files) == {'model.safetensors', 'config.yaml', 'tokenizer.json', 'README.md', 'samples.png', 'evaluation.json'}
    card = files['README.md'].decode()
    assert card.startswith('---\nlibrary_name: artdiff_nb') and '| style |' in card and '--model-path hf://me/tiny' in card
    assert json.loads(files['evaluation.json'])['n'] == 8
    assert any(p == '/api/models/me/tiny/commit/main' for _, p, _ in hub.log)        # one commit through the Hub API

    # generate from the Hub: the same pixels as the uploaded folder gives locally
    local = tmp_path / 'local'; local.mkdir()
    for f, b in files.items(): (local / f).write_bytes(b)
    for src, out in (('hf://me/tiny', tmp_path / 'hub.png'), (local, tmp_path / 'local.png')):
        r = artdiff('generate', '--model-path', src, '--caption', CAPTION, '--seed', '5', '--out', out, env=hub.env)
        assert r.returncode == 0, r.stderr
    assert (png(tmp_path / 'hub.png') == png(tmp_path / 'local.png')).all()
    downloads = sum(1 for m, p, _ in hub.log if m == 'GET' and '/resolve/' in p)

    # cached: offline, the same model still loads (and nothing new is asked of the Hub)
    offline = {**hub.env, 'HF_HUB_OFFLINE': '1'}
    r = artdiff('generate', '--model-path', 'hf://me/tiny', '--caption', CAPTION, '--seed', '5', '--out', tmp_path / 'off.png', env=offline)
    assert r.returncode == 0, r.stderr
    assert (png(tmp_path / 'off.png') == png(tmp_path / 'hub.png')).all()
    assert sum(1 for m, p, _ in hub.log if m == 'GET' and '/resolve/' in p) == downloads

    # evaluate and load_run read it too
    r = artdiff('evaluate', '--model-path', 'hf://me/tiny', '--n', '4', '--batch-size', '4', env=hub.env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert list((tmp_path / 'evaluations' / 'me_tiny').glob('step6_*_n4_seed0.json'))
    r = python("from artdiff_nb.train import load_run; r = load_run('hf://me/tiny'); print(r.name, r.step, r.home)", hub.env)
    assert r.stdout.split() == ['hf://me/tiny', '6', 'None'], r.stderr

def test_revisions_pin_a_version(trained, hub, tmp_path):
    from artdiff_nb.hub import export_model
    first = hub.add_folder('model', 'me/tiny', export_model(trained / 'checkpoints' / 'step_0000003', tmp_path / 'a', n_eval=0, progress=False))
    hub.add_folder('model', 'me/tiny', export_model(trained, tmp_path / 'b', n_eval=0, progress=False))
    steps = "from artdiff_nb.train import load_run; print(load_run('hf://me/tiny').step, load_run('hf://me/tiny@%s').step)" % first
    r = python(steps, hub.env)
    assert r.stdout.split() == ['6', '3'], r.stderr

def test_serve_from_the_hub(trained, hub, tmp_path):
    from artdiff_nb.hub import export_model
    hub.add_folder('model', 'me/tiny', export_model(trained, tmp_path / 'm', n_eval=0, progress=False))
    port = free_port()
    p = subprocess.Popen([str(BIN / 'artdiff'), 'serve', '--model-path', 'hf://me/tiny', '--port', str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **hub.env})
    try:
        wait_port(port, p)
        info = requests.get(f'http://127.0.0.1:{port}/info', timeout=30).json()
        assert info['model']['run'] == 'hf://me/tiny' and info['model']['step'] == 6
        r = requests.post(f'http://127.0.0.1:{port}/predict', json=[{'caption': CAPTION}], params={'seed': 1}, timeout=120)
        assert r.status_code == 200 and r.json()['result'][0]['shape'] == [3, 16, 16]
    finally:
        p.send_signal(signal.SIGTERM)
        try: p.wait(15)
        except subprocess.TimeoutExpired: p.kill(); p.wait()

@pytest.mark.parametrize('args, env, msg', [
    (['generate', '--model-path', 'hf://me/nothing', '--caption', CAPTION], {}, 'no model repo me/nothing on the Hub'),
    (['generate', '--model-path', 'hf://me/tiny@v9', '--caption', CAPTION], {}, "no revision 'v9' of me/tiny"),
    (['generate', '--model-path', 'hf://me', '--caption', CAPTION], {}, 'write hf://OWNER/NAME'),
    (['generate', '--model-path', 'hf://me/tiny', '--caption', CAPTION], {'HF_HUB_OFFLINE': '1'}, 'not in the local Hugging Face cache'),
    (['push', '--model-path', 'RUN', '--repo', 'me/other', '--n', '0'], {'HF_TOKEN': ''}, 'log in with `hf auth login`'),
    (['push', '--model-path', 'RUN', '--repo', 'not a repo'], {}, "must be OWNER/NAME"),
    (['push', '--model-path', 'nowhere', '--repo', 'me/x'], {}, 'does not exist'),
])
def test_hub_mistakes_are_one_line(trained, hub, tmp_path, args, env, msg):
    hub.add('model', 'me/tiny', {'README.md': b'# not a model yet'})
    r = artdiff(*[str(trained) if a == 'RUN' else a for a in args], '--out' if args[0] == 'generate' else '--message',
                str(tmp_path / 'x.png') if args[0] == 'generate' else 'm', env={**hub.env, **env})
    assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (r.returncode, r.stderr)
    assert not (tmp_path / 'x.png').exists() and ('model', 'me/other') not in hub.repos

def test_pretrained_ships_and_works_offline(tmp_path):
    "The model in the package loads with no network and no training, generates, and its card's figures are its own."
    from artdiff_nb.hub import PRETRAINED, is_model_folder
    assert is_model_folder(PRETRAINED), 'the pretrained model is missing: tools/train_pretrained.py export'
    assert (PRETRAINED / 'model.safetensors').stat().st_size < 12e6
    env = {'HF_HUB_OFFLINE': '1', 'HF_HOME': str(tmp_path / 'empty')}
    r = artdiff('generate', '--model-path', 'pretrained', '--caption', CAPTION, '--seed', '2', '--out', tmp_path / 'cli.png', env=env)
    assert r.returncode == 0, r.stderr
    from artdiff_nb.train import load_run
    run = load_run('pretrained')
    assert (png(tmp_path / 'cli.png') == run.generate([CAPTION], seed=2)[0]).all()
    ev = json.loads((PRETRAINED / 'evaluation.json').read_text())
    card = (PRETRAINED / 'README.md').read_text()
    assert ev['step'] == run.step and f"| style | {ev['fidelity']['style']:.1%} |" in card
    assert ev['n'] >= 270 and ev['fidelity']['style'] > 0.5        # measured on all 27 styles; the figures are in the card
    from artdiff_nb.hub import _recipe
    for k, v in _recipe(run.cfg): assert f"| {k} | {v} |" in card, (k, v)   # the card's recipe is the shipped config's

def test_pretrained_keeps_its_measured_fidelity():
    "Re-measured here on 54 held-out captions, the shipped model's style and family fidelity agree with its card."
    from artdiff_nb.hub import PRETRAINED
    from artdiff_nb.metrics import evaluate
    from artdiff_nb.train import load_run
    card = json.loads((PRETRAINED / 'evaluation.json').read_text())['fidelity']
    now = evaluate(load_run('pretrained'), n=54, progress=False)['fidelity']
    for k in ('style', 'family'): assert now[k] >= card[k] - 0.15, (k, now[k], card[k])
