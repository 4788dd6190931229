"""`artdiff train` and `artdiff generate` as a user runs them: EIR's five files, a crash by SIGKILL and a resume,
bad configs that fail with one line naming the file and key, and generation from the run."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import pytest
import yaml
from PIL import Image
from safetensors.torch import load_file

from conftest import BIN, artdiff, write_configs

def steps_logged(run: Path) -> list[int]:
    import csv
    with open(run / 'training_log.csv') as f: return [int(r['step']) for r in csv.DictReader(f) if r['train_loss']]

def test_train_then_generate(tmp_path):
    args = write_configs(tmp_path, iterations=10)
    r = artdiff('train', *args)
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / 'run'
    for f in ['config.yaml', 'tokenizer.json', 'training_log.csv', 'training_curve_LOSS.png', 'samples/grid_iter_10.png',
              'samples/auto_generated_iter_5_0.png', 'checkpoints/step_0000010/ema.safetensors', 'configs/globals.yaml']:
        assert (run / f).exists(), f
    assert yaml.safe_load((run / 'config.yaml').read_text())['unet']['image_size'] == 16
    out = tmp_path / 'one.png'
    r = artdiff('generate', '--model-path', run, '--caption', 'Hiroshige / Crimson Harbour at Night / Ukiyo e / cityscape / 1840',
                '--steps', '4', '--scale', '4', '--out', out)
    assert r.returncode == 0, r.stderr[-2000:]
    with Image.open(out) as im: assert im.size == (64, 64)
    r = artdiff('generate', '--model-path', run / 'checkpoints' / 'step_0000005', '--caption', 'a', '--caption', 'b',
                '--steps', '3', '--out', tmp_path / 'grid.png')
    assert r.returncode == 0 and (tmp_path / 'grid.png').exists(), r.stderr[-2000:]
    r = artdiff('train', *args)                            # the folder holds a run: refuse, change nothing
    assert r.returncode == 2 and 'already holds a run' in r.stderr and len(r.stderr.strip().splitlines()) == 1

def test_sigkill_then_resume(tmp_path):
    args = write_configs(tmp_path, iterations=400, interval=10)
    run = tmp_path / 'run'
    p = subprocess.Popen([str(BIN / 'artdiff'), 'train', *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env={**os.environ, 'MPLBACKEND': 'Agg'})
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            try:
                if json.loads((run / 'checkpoints' / 'latest').read_text())['step'] >= 30: break
            except (OSError, ValueError): pass
            assert p.poll() is None, p.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        time.sleep(0.3)                                     # somewhere between checkpoints, maybe inside one
        p.send_signal(signal.SIGKILL); p.wait(30)
    finally:
        if p.poll() is None: p.kill(); p.wait()
    progress = max(steps_logged(run))
    ckpts = sorted(d for d in (run / 'checkpoints').glob('step_*'))
    for d in ckpts:                                        # nothing under a real name is corrupt
        for f in ('model.safetensors', 'ema.safetensors', 'training_state.safetensors'): load_file(d / f)
        json.loads((d / 'state.json').read_text())
    saved = json.loads((run / 'checkpoints' / 'latest').read_text())['step']
    assert progress - saved <= 10, (progress, saved)        # at most one checkpoint interval lost
    r = artdiff('train', '--resume', run, '--max-steps', '60', timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((run / 'checkpoints' / 'latest').read_text())['step'] == 60
    s = steps_logged(run)
    assert s == sorted(set(s)) and s[-1] == 60              # no step logged twice: lost steps were dropped, then redone

@pytest.mark.parametrize('section, key, value, msg', [
    ('optimization', 'lrr', 0.1, "globals.yaml: unknown key 'optimization.lrr' (did you mean 'lr'?)"),
    ('basic_experiment', 'batch_size', 'many', "globals.yaml: 'basic_experiment.batch_size' must be an integer"),
    ('evaluation_checkpoint', 'checkpoint_interval', 0, "globals.yaml: 'checkpoint_interval' must be >= 1"),
])
def test_bad_config_is_one_line(tmp_path, section, key, value, msg):
    args = write_configs(tmp_path)
    g = yaml.safe_load((tmp_path / 'globals.yaml').read_text()); g.setdefault(section, {})[key] = value
    (tmp_path / 'globals.yaml').write_text(yaml.safe_dump(g))
    r = artdiff('train', *args)
    assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / 'run').exists()

def test_usage_errors(tmp_path):
    for args, msg in [(['--preset', 'procart-cpu', '--resume', tmp_path], 'exactly one of'),
                      (['--preset', 'nope'], "unknown preset 'nope'"),
                      (['--resume', tmp_path / 'missing'], 'is not a run folder'),
                      (['--global_configs', tmp_path / 'g.yaml'], 'go together')]:
        r = artdiff('train', *args)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    r = artdiff('generate', '--model-path', tmp_path / 'missing', '--caption', 'x')
    assert r.returncode == 2 and 'does not exist' in r.stderr
