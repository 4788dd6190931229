"""Sharing models: `ArtDiffPipeline.push_to_hub` and `artdiff push` upload a model folder through huggingface_hub's
ModelHubMixin (create_repo, upload_folder), and `from_pretrained('OWNER/NAME')` / `--model-path hf://OWNER/NAME[@REVISION]`
download it through snapshot_download, for generate, evaluate and serve, against a loopback Hub (tests/loopback_hub.py); the
download is cached and HF_HUB_OFFLINE=1 is respected. And the model shipped with the package, `pretrained`, loads offline
with no training, in a diffusers user's three lines."""
import json

import numpy as np
import pytest
import requests
from PIL import Image

from conftest import BIN, artdiff, run as run_cmd, free_port, served
from loopback_hub import LoopbackHub

CAPTION = 'Claude Monet / Pale Water Lilies at Dusk / Impressionism / landscape / 1899'
MODEL_FOLDER = {'model.safetensors', 'config.json', 'tokenizer.json', 'README.md', 'samples.png'}

@pytest.fixture
def hub(tmp_path):
    with LoopbackHub() as h:
        h.env = {'HF_ENDPOINT': h.url, 'HF_TOKEN': 'hf_loopback', 'HF_HOME': str(tmp_path / 'hf'), 'HF_HUB_DISABLE_TELEMETRY': '1',
                 'HF_HUB_OFFLINE': '0'}
        yield h

def python(code, env, **kw): return run_cmd(BIN / 'python', '-c', code, env=env, **kw)

def png(path): return np.asarray(Image.open(path).convert('RGB'))

def head_files(hub, repo='me/tiny') -> dict:
    r = hub.repos[('model', repo)]
    return r['commits'][r['refs']['main']]

def test_save_push_and_load_back_give_identical_pixels(tiny_run, hub, tmp_path):
    "save_pretrained, push_to_hub (the mixin's) to the loopback Hub, from_pretrained('OWNER/NAME'): the same pixels as the saved folder."
    code = f"""
import numpy as np
from artdiff_nb.pipeline import ArtDiffPipeline
pipe = ArtDiffPipeline.from_pretrained({str(tiny_run)!r})
pipe.save_pretrained({str(tmp_path / 'saved')!r})
saved = ArtDiffPipeline.from_pretrained({str(tmp_path / 'saved')!r})
url = saved.push_to_hub('me/tiny')
back = ArtDiffPipeline.from_pretrained('me/tiny')
a = saved([{CAPTION!r}] * 2, seed=3, output_type='uint8').images
b = back([{CAPTION!r}] * 2, seed=3, output_type='uint8').images
print(url, back.step, back.name, (a == b).all(), np.abs(a.astype(int) - pipe([{CAPTION!r}] * 2, seed=3, output_type='uint8').images.astype(int)).max())
"""
    r = python(code, hub.env, timeout=600)
    assert r.returncode == 0, r.stderr
    url, step, name, same, diff = r.stdout.split()
    assert '/me/tiny/commit/' in url and (step, name, same) == ('6', 'me/tiny', 'True')
    assert int(diff) <= 2                                                    # float16 weights: within a grey level or two of the run
    assert set(head_files(hub)) == MODEL_FOLDER
    from safetensors.torch import load
    up, saved = load(head_files(hub)['model.safetensors']), load((tmp_path / 'saved' / 'model.safetensors').read_bytes())
    assert up.keys() == saved.keys() and all((up[k] == saved[k]).all() for k in up)

def test_push_then_use_from_the_hub(tiny_run, hub, tmp_path):
    r = artdiff('push', '--model-path', tiny_run, '--repo', 'me/tiny', '--n', '8', env=hub.env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert 'use it anywhere with --model-path me/tiny' in r.stdout
    files = head_files(hub)
    assert set(files) == MODEL_FOLDER | {'evaluation.json'}
    card = files['README.md'].decode()
    assert card.startswith('---\n') and 'library_name: artdiff_nb' in card and 'model-index:' in card and '| style |' in card
    assert "ArtDiffPipeline.from_pretrained('hf://me/tiny')" in card and '--model-path hf://me/tiny' in card
    assert json.loads(files['evaluation.json'])['n'] == 8
    assert any(p == '/api/models/me/tiny/commit/main' for _, p, _ in hub.log)        # one commit through the Hub API

    # generate from the Hub: the same pixels as the uploaded folder gives locally
    local = tmp_path / 'local'; local.mkdir()
    for f, b in files.items(): (local / f).write_bytes(b)
    for src, out in (('hf://me/tiny', tmp_path / 'hub.png'), ('me/tiny', tmp_path / 'plain.png'), (local, tmp_path / 'local.png')):
        r = artdiff('generate', '--model-path', src, '--caption', CAPTION, '--seed', '5', '--out', out, env=hub.env)
        assert r.returncode == 0, r.stderr
    assert (png(tmp_path / 'hub.png') == png(tmp_path / 'local.png')).all() and (png(tmp_path / 'plain.png') == png(tmp_path / 'hub.png')).all()
    downloads = sum(1 for m, p, _ in hub.log if m == 'GET' and '/resolve/' in p)

    # cached: offline, the same model still loads (and nothing new is asked of the Hub)
    offline = {**hub.env, 'HF_HUB_OFFLINE': '1'}
    r = artdiff('generate', '--model-path', 'hf://me/tiny', '--caption', CAPTION, '--seed', '5', '--out', tmp_path / 'off.png', env=offline)
    assert r.returncode == 0, r.stderr
    assert (png(tmp_path / 'off.png') == png(tmp_path / 'hub.png')).all()
    assert sum(1 for m, p, _ in hub.log if m == 'GET' and '/resolve/' in p) == downloads

    # evaluate and from_pretrained read it too
    r = artdiff('evaluate', '--model-path', 'hf://me/tiny', '--n', '4', '--batch-size', '4', env=hub.env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert list((tmp_path / 'evaluations' / 'me_tiny').glob('step6_*_n4_seed0.json'))
    r = python("from artdiff_nb.pipeline import ArtDiffPipeline; p = ArtDiffPipeline.from_pretrained('hf://me/tiny'); "
               "print(p.name, p.step, p.home, p.evaluation['n'])", hub.env)
    assert r.stdout.split() == ['hf://me/tiny', '6', 'None', '8'], r.stderr

def export(model, out, n=0):
    r = artdiff('export', '--model-path', model, '--out', out, '--n', str(n))
    assert r.returncode == 0, r.stderr
    return out

def test_revisions_pin_a_version(tiny_run, hub, tmp_path):
    first = hub.add_folder('model', 'me/tiny', export(tiny_run / 'checkpoints' / 'step_0000003', tmp_path / 'a'))
    hub.add_folder('model', 'me/tiny', export(tiny_run, tmp_path / 'b'))
    steps = ("from artdiff_nb.pipeline import ArtDiffPipeline as P; "
             "print(P.from_pretrained('hf://me/tiny').step, P.from_pretrained('hf://me/tiny@%s').step, P.from_pretrained('me/tiny', revision=%r).step)"
             % (first, first))
    r = python(steps, hub.env)
    assert r.stdout.split() == ['6', '3', '3'], r.stderr

def test_export_writes_a_measured_model_folder(tiny_run, tmp_path):
    out = export(tiny_run, tmp_path / 'm', n=27)
    assert {p.name for p in out.iterdir()} == MODEL_FOLDER | {'evaluation.json'}
    card = (out / 'README.md').read_text()
    assert "caption_fidelity_style" in card and f"ArtDiffPipeline.from_pretrained('{out}')" in card
    r = artdiff('export', '--model-path', tiny_run, '--out', tmp_path / 'm', '--n', '0')         # replaced whole
    assert r.returncode == 0 and not (out / 'evaluation.json').exists(), r.stderr

def test_serve_from_the_hub(tiny_run, hub, tmp_path):
    hub.add_folder('model', 'me/tiny', export(tiny_run, tmp_path / 'm'))
    port = free_port()
    with served(BIN / 'artdiff', 'serve', '--model-path', 'hf://me/tiny', '--port', port, port=port, env=hub.env):
        info = requests.get(f'http://127.0.0.1:{port}/info', timeout=30).json()
        assert info['model']['run'] == 'hf://me/tiny' and info['model']['step'] == 6
        r = requests.post(f'http://127.0.0.1:{port}/predict', json=[{'caption': CAPTION}], params={'seed': 1}, timeout=120)
        assert r.status_code == 200 and r.json()['result'][0]['shape'] == [3, 16, 16]

@pytest.mark.parametrize('args, env, msg', [
    (['generate', '--model-path', 'hf://me/nothing', '--caption', CAPTION], {}, 'no model repo of that name on the Hub'),
    (['generate', '--model-path', 'me/nothing', '--caption', CAPTION], {}, 'no such folder here, and no model repo of that name on the Hub'),
    (['generate', '--model-path', 'hf://me/tiny@v9', '--caption', CAPTION], {}, "no revision 'v9'"),
    (['generate', '--model-path', 'hf://me', '--caption', CAPTION], {}, 'write hf://OWNER/NAME'),
    (['generate', '--model-path', 'hf://me/tiny', '--caption', CAPTION], {'HF_HUB_OFFLINE': '1'}, 'not in the local Hugging Face cache'),
    (['generate', '--model-path', 'hf://me/tiny', '--caption', CAPTION], {}, 'is not an artdiff_nb model'),
    (['push', '--model-path', 'RUN', '--repo', 'me/other', '--n', '0'], {'HF_TOKEN': ''}, 'log in with `hf auth login`'),
    (['push', '--model-path', 'RUN', '--repo', 'not a repo', '--n', '0'], {}, "must be OWNER/NAME"),
    (['push', '--model-path', 'nowhere', '--repo', 'me/x'], {}, 'does not exist'),
])
def test_hub_mistakes_are_one_line(tiny_run, hub, tmp_path, args, env, msg):
    hub.add('model', 'me/tiny', {'README.md': b'# not a model yet'})
    r = artdiff(*[str(tiny_run) if a == 'RUN' else a for a in args], '--out' if args[0] == 'generate' else '--message',
                str(tmp_path / 'x.png') if args[0] == 'generate' else 'm', env={**hub.env, **env})
    assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (r.returncode, r.stderr)
    assert not (tmp_path / 'x.png').exists() and ('model', 'me/other') not in hub.repos

def test_pretrained_in_three_lines(tmp_path):
    "The README's three lines, offline with an empty Hub cache; the same pixels as `artdiff generate`."
    env = {'HF_HUB_OFFLINE': '1', 'HF_HOME': str(tmp_path / 'empty')}
    code = ("from artdiff_nb.pipeline import ArtDiffPipeline\n"
            "pipe = ArtDiffPipeline.from_pretrained('pretrained')\n"
            f"pipe(['Claude Monet / Water Lilies / Impressionism / landscape / 1916'], seed=0).images[0].save({str(tmp_path / 'a.png')!r})")
    r = python(code, env)
    assert r.returncode == 0, r.stderr
    r = artdiff('generate', '--model-path', 'pretrained', '--caption', 'Claude Monet / Water Lilies / Impressionism / landscape / 1916',
                '--seed', '0', '--out', tmp_path / 'cli.png', env=env)
    assert r.returncode == 0, r.stderr
    assert png(tmp_path / 'a.png').shape == (32, 32, 3) and (png(tmp_path / 'a.png') == png(tmp_path / 'cli.png')).all()

def test_pretrained_ships_and_its_card_is_its_own():
    "The model in the package: small, its card's figures are its evaluation's, its recipe its config's."
    from artdiff_nb.pipeline import ArtDiffPipeline, PRETRAINED, is_model_folder, _recipe
    from huggingface_hub import ModelCard
    assert is_model_folder(PRETRAINED), 'the pretrained model is missing: tools/train_pretrained.py export'
    assert (PRETRAINED / 'model.safetensors').stat().st_size < 12e6
    pipe = ArtDiffPipeline.from_pretrained('pretrained', device='cpu')
    ev, card = pipe.evaluation, (PRETRAINED / 'README.md').read_text()
    assert ev['step'] == pipe.step and f"| style | {ev['fidelity']['style']:.1%} |" in card
    assert ev['n'] >= 270 and ev['fidelity']['style'] > 0.5        # measured on all 27 styles; the figures are in the card
    for k, v in _recipe(pipe.config): assert f"| {k} | {v} |" in card, (k, v)   # the card's recipe is the shipped config's
    results = {r.metric_type: r.metric_value for r in ModelCard.load(PRETRAINED / 'README.md').data.eval_results}
    assert results['caption_fidelity_style'] == round(100 * ev['fidelity']['style'], 1)

def test_pretrained_keeps_its_measured_fidelity():
    "Re-measured here on 54 held-out captions, the shipped model's style and family fidelity agree with its card."
    from artdiff_nb.pipeline import ArtDiffPipeline
    from artdiff_nb.metrics import evaluate
    pipe = ArtDiffPipeline.from_pretrained('pretrained', device='cpu')
    now = evaluate(pipe, n=54, progress=False)['fidelity']
    for k in ('style', 'family'): assert now[k] >= pipe.evaluation['fidelity'][k] - 0.15, (k, now[k], pipe.evaluation['fidelity'][k])

def test_a_diffusers_autoencoder_loads_from_the_hub_behind_ours(hub, tmp_path):
    "A small diffusers AutoencoderKL built here, pushed to the loopback Hub, loads as hf://OWNER/NAME with our autoencoder's interface."
    import torch
    from diffusers import AutoencoderKL
    from artdiff_nb.autoencoder import DiffusersAutoencoder
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(8, 16, 16, 16), down_block_types=('DownEncoderBlock2D',) * 4, up_block_types=('UpDecoderBlock2D',) * 4,
                        latent_channels=4, layers_per_block=1, norm_num_groups=8, sample_size=64, scaling_factor=0.5)
    vae.save_pretrained(tmp_path / 'vae')
    hub.add_folder('model', 'me/vae', tmp_path / 'vae')
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    np.save(tmp_path / 'x.npy', x.numpy())
    code = f"""
import numpy as np, torch
from artdiff_nb.autoencoder import load_autoencoder
ae = load_autoencoder('hf://me/vae')
z = ae.latents(torch.from_numpy(np.load({str(tmp_path / 'x.npy')!r})))
np.save({str(tmp_path / 'z.npy')!r}, z.numpy()); print(ae.factor, ae.latent_channels, ae.latent_size, ae.scale.item(), tuple(ae.decode(z).shape))
"""
    r = python(code, hub.env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ['8', '4', '8', '0.5', '(2,', '3,', '64,', '64)']
    np.testing.assert_allclose(np.load(tmp_path / 'z.npy'), DiffusersAutoencoder(vae).latents(x).numpy(), atol=1e-5)
    r = python("from artdiff_nb.autoencoder import load_autoencoder; load_autoencoder('hf://me/nothing')", hub.env)
    assert r.returncode != 0
