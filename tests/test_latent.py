"""A latent model through every face. A tiny run on the latents of a small autoencoder (factor 2, 4 channels: 32 px paintings,
16 x 16 x 4 latents) is generated from with `artdiff generate`, served (EIR's API answers with 32 px paintings), evaluated,
exported (measured on 27 held-out captions) with the autoencoder it carries, pushed to the loopback Hub and loaded back from it, and drawn in the playground's
trajectory and attention modes; its bad input is one line each, before any work."""
import json

import numpy as np
import pytest
import requests
import torch
from PIL import Image

from conftest import BIN, artdiff, free_port, served, tiny_config
from loopback_hub import LoopbackHub

CAPTION = 'Claude Monet / Pale Water Lilies at Dusk / Impressionism / landscape / 1899'

@pytest.fixture(scope='module')
def latent(tmp_path_factory):
    "(the run folder, the autoencoder's file): 8 steps of the tiny preset on latents, from a latent cache of 32 paintings."
    from artdiff_nb.autoencoder import ArtAutoencoder, save_autoencoder
    from artdiff_nb.train import train
    d = tmp_path_factory.mktemp('latent')
    torch.manual_seed(0); ae = save_autoencoder(ArtAutoencoder((8, 8), 4, 32), d / 'ae.safetensors')
    cfg = tiny_config(d / 'run', max_steps=8, checkpoint_interval=4, sample_interval=8, autoencoder=str(ae), latent_factor=2,
                      latent_cache=32, unet={'image_size': 16, 'num_channels': 4}, sampling={'sampler': 'dpm++2m', 'steps': 4})
    return train(cfg, progress=False), ae

def png(path): return np.asarray(Image.open(path).convert('RGB'))

def test_generate_writes_paintings_at_the_image_size(latent, tmp_path):
    run, _ = latent
    r = artdiff('generate', '--model-path', run, '--caption', CAPTION, '--seed', '0', '--out', tmp_path / 'a.png')
    assert r.returncode == 0, r.stderr
    from artdiff_nb.pipeline import ArtDiffPipeline
    pipe = ArtDiffPipeline.from_pretrained(run, device='cpu')
    assert (pipe.image_size, pipe.config.unet.image_size, pipe.is_latent) == (32, 16, True)
    assert (png(tmp_path / 'a.png') == pipe([CAPTION], seed=0, output_type='uint8').images[0]).all()
    assert png(run / 'samples' / 'grid_iter_8.png').shape[0] > 32               # the sample grid is of decoded paintings
    start = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)    # img2img: encoded, noised, denoised, decoded
    assert pipe([CAPTION] * 2, image=start, strength=0.5, seed=0, output_type='uint8').images.shape == (2, 32, 32, 3)

def test_serve_answers_eir_with_paintings(latent):
    port = free_port()
    with served(BIN / 'artdiff', 'serve', '--model-path', latent[0], '--port', port, port=port):
        info = requests.get(f'http://127.0.0.1:{port}/info', timeout=30).json()
        assert info['image']['size'] == 32 and info['image']['channels'] == 3
        r = requests.post(f'http://127.0.0.1:{port}/predict', json=[{'caption': CAPTION}], params={'seed': 1}, timeout=120)
        assert r.status_code == 200 and r.json()['result'][0]['shape'] == [3, 32, 32], r.text

def test_export_carries_the_autoencoder_and_the_hub_serves_it(latent, tmp_path):
    run, _ = latent
    r = artdiff('export', '--model-path', run, '--out', tmp_path / 'm', '--n', '27')
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'm' / 'autoencoder.safetensors').is_file()
    assert json.loads((tmp_path / 'm' / 'config.json').read_text())['autoencoder'] == 'autoencoder.safetensors'
    card = (tmp_path / 'm' / 'README.md').read_text()
    assert 'the UNet learns on 16 x 16 x 4 latents' in card and 'caption_fidelity_style' in card      # measured on decoded paintings
    with LoopbackHub() as hub:
        env = {'HF_ENDPOINT': hub.url, 'HF_TOKEN': 'hf_loopback', 'HF_HOME': str(tmp_path / 'hf'), 'HF_HUB_DISABLE_TELEMETRY': '1', 'HF_HUB_OFFLINE': '0'}
        r = artdiff('push', '--model-path', tmp_path / 'm', '--repo', 'me/latent', '--n', '0', env=env, timeout=600)
        assert r.returncode == 0, r.stderr
        r = artdiff('generate', '--model-path', 'hf://me/latent', '--caption', CAPTION, '--seed', '0', '--out', tmp_path / 'hub.png', env=env)
        assert r.returncode == 0, r.stderr
    r = artdiff('generate', '--model-path', tmp_path / 'm', '--caption', CAPTION, '--seed', '0', '--out', tmp_path / 'folder.png')
    assert r.returncode == 0 and (png(tmp_path / 'hub.png') == png(tmp_path / 'folder.png')).all(), r.stderr
    assert png(tmp_path / 'folder.png').shape == (32, 32, 3)

def test_playground_draws_decoded_trajectories_and_attention(latent):
    from artdiff_nb.playground import Playground
    pg = Playground(str(latent[0]), device='cpu', caption=CAPTION)
    pg.explore('trajectory')
    assert pg.traj.x[0].shape[1:] == (4, 16, 16) and pg.image.value[:4] == b'\x89PNG'
    pg.explore('attention')
    assert pg.images.shape[1:] == (32, 32, 3)                                   # heatmaps upscaled onto the decoded painting
    assert 'attention in' in pg.status.value

def test_a_model_whose_autoencoder_does_not_fit_is_one_line(latent, tmp_path):
    from artdiff_nb.autoencoder import ArtAutoencoder, save_autoencoder
    run, _ = latent
    r = artdiff('export', '--model-path', run, '--out', tmp_path / 'm', '--n', '0')
    assert r.returncode == 0, r.stderr
    save_autoencoder(ArtAutoencoder((8, 8, 8), 4, 32), tmp_path / 'm' / 'autoencoder.safetensors')    # factor 4 instead of 2
    r = artdiff('generate', '--model-path', tmp_path / 'm', '--caption', CAPTION, '--out', tmp_path / 'x.png')
    assert r.returncode != 0 and 'makes 4-channel latents at 1/4 of the image' in r.stderr and 'Traceback' not in r.stderr
    (tmp_path / 'm' / 'autoencoder.safetensors').unlink()
    r = artdiff('serve', '--model-path', tmp_path / 'm', '--port', free_port())
    assert r.returncode != 0 and 'no autoencoder at' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path / 'x.png').exists()
