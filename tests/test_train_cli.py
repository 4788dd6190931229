"""`artdiff train` and `artdiff generate` as a user runs them: EIR's five files, a crash by SIGKILL and a resume,
bad configs that fail with one line naming the file and key, and generation from the run."""
import json, os, signal, subprocess, time
from pathlib import Path

import pytest
import yaml
from PIL import Image
from safetensors.torch import load_file

from conftest import BIN, artdiff, write_configs, write_fixtures, free_port

def steps_logged(run: Path) -> list[int]:
    import csv
    with open(run / 'training_log.csv') as f: return [int(r['step']) for r in csv.DictReader(f) if r['train_loss']]

def test_train_then_generate(tmp_path):
    args = write_configs(tmp_path, iterations=10, evaluation_checkpoint={'checkpoint_interval': 5, 'sample_interval': 5, 'log_interval': 1,
                                                                          'n_saved_models': 2, 'n_metric_captions': 4, 'metrics_budget': 1.0})
    r = artdiff('train', *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'metrics at step 10: style' in r.stdout and 'FD-critic' in r.stdout, r.stdout[-2000:]
    run = tmp_path / 'run'
    for f in ['config.yaml', 'tokenizer.json', 'training_log.csv', 'training_curve_LOSS.png', 'training_curve_FIDELITY.png', 'samples/grid_iter_10.png',
              'samples/auto_generated_iter_5_0.png', 'checkpoints/step_0000010/ema.safetensors', 'configs/globals.yaml']:
        assert (run / f).exists(), f
    assert yaml.safe_load((run / 'config.yaml').read_text())['unet']['image_size'] == 16
    out = tmp_path / 'one.png'
    r = artdiff('generate', '--model-path', run, '--caption', 'Hiroshige / Crimson Harbour at Night / Ukiyo e / cityscape / 1840',
                '--steps', '4', '--upscale', '4', '--out', out)
    assert r.returncode == 0, r.stderr[-2000:]
    with Image.open(out) as im: assert im.size == (64, 64)
    r = artdiff('generate', '--model-path', run, '--caption', 'x', '--scale', '4', '--out', tmp_path / 'old.png')
    assert r.returncode == 2 and '--scale is now --upscale' in r.stderr and not (tmp_path / 'old.png').exists(), r.stderr
    r = artdiff('generate', '--model-path', run / 'checkpoints' / 'step_0000005', '--caption', 'a', '--caption', 'b',
                '--steps', '3', '--out', tmp_path / 'grid.png')
    assert r.returncode == 0 and (tmp_path / 'grid.png').exists(), r.stderr[-2000:]
    r = artdiff('train', *args)                            # the folder holds a run: refuse, change nothing
    assert r.returncode == 2 and 'already holds a run' in r.stderr and len(r.stderr.strip().splitlines()) == 1

    cfg = yaml.safe_load((run / 'config.yaml').read_text())        # a run from before the metrics existed: no such keys
    for k in ('n_metric_captions', 'metrics_interval', 'metrics_budget'): del cfg[k]
    (run / 'config.yaml').write_text(yaml.safe_dump(cfg))
    r = artdiff('evaluate', '--model-path', run, '--n', '27', '--steps', '2', '--batch-size', '14')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '| style |' in r.stdout and 'FD-critic' in r.stdout and 'generated 27/27' in r.stdout, r.stdout
    saved = list((run / 'evaluations').glob('step10_dpm++2m_2_g1.5_n27_seed0.json'))
    assert len(saved) == 1
    res = json.loads(saved[0].read_text())
    assert set(res['fidelity']) == {'style', 'family', 'genre', 'colour', 'time', 'era'} and res['n'] == 27
    assert res['ceiling']['style'] > 0.5 and res['fd_critic'] > 0 and res['sampling']['steps'] == 2   # 16 px paintings, upsampled for the critic
    for bad, msg in [(['--n', '0'], 'n must be >= 1'), (['--guidance-scale', '-1'], 'guidance_scale'),
                     (['--sampler', 'euler'], "invalid choice: 'euler'")]:
        r = artdiff('evaluate', '--model-path', run, *bad)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (bad, r.stderr)

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

def test_set_device_and_precision_override_the_files(tmp_path):
    "`--set FILE.section.key=VALUE`, `--device` and `--precision` change the run's config, recorded in config.yaml; mistakes are one line."
    out = tmp_path / 'run'
    r = artdiff('train', '--preset', 'tiny', '--max-steps', '2', '--output-folder', out, '--device', 'cpu', '--precision', '32-true',
                '--set', 'globals.basic_experiment.batch_size=4', '--set', 'globals.evaluation_checkpoint.checkpoint_interval=2')
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = yaml.safe_load((out / 'config.yaml').read_text())
    assert (cfg['device'], cfg['precision'], cfg['data']['batch_size'], cfg['checkpoint_interval']) == ('cpu', '32-true', 4, 2)
    for extra, msg in [(['--set', 'globals.basic_experiment.batch_sise=4'], "unknown key 'basic_experiment.batch_sise' (did you mean 'batch_size'?)"),
                       (['--device', 'tpu'], "unknown device 'tpu'"), (['--precision', 'fp8'], "invalid choice: 'fp8'")]:   # the rest: nbs/21_config
        r = artdiff('train', '--preset', 'tiny', '--output-folder', tmp_path / 'bad', *extra)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (extra, r.stderr)
        assert not (tmp_path / 'bad').exists()
    r = artdiff('train', '--resume', out, '--set', 'globals.basic_experiment.batch_size=8')
    assert r.returncode == 2 and 'a resumed run keeps its own' in r.stderr

def test_usage_errors(tmp_path):
    for args, msg in [(['--preset', 'procart-cpu', '--resume', tmp_path], 'exactly one of'),
                      (['--preset', 'nope'], "unknown preset 'nope'"),
                      (['--resume', tmp_path / 'missing'], 'is not a run folder'),
                      (['--global_configs', tmp_path / 'g.yaml'], 'go together')]:
        r = artdiff('train', *args)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    r = artdiff('generate', '--model-path', tmp_path / 'missing', '--caption', 'x')
    assert r.returncode == 2 and 'does not exist' in r.stderr

def test_exact_steps_with_plain_lines_when_piped(tmp_path):
    "`artdiff train --preset procart-cpu --max-steps 40 | cat`: 40 steps, no more; one plain line per log interval, no bars."
    r = artdiff('train', '--preset', 'procart-cpu', '--max-steps', '40', '--output-folder', tmp_path / 'run', timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / 'run'
    assert sorted(p.name for p in (run / 'checkpoints').glob('step_*')) == ['step_0000040']
    assert steps_logged(run) == [10, 20, 30, 40] and (run / 'samples' / 'grid_iter_40.png').exists()
    assert '\r' not in r.stdout and r.stdout.count('\n') < 20 and '[0, ' not in r.stdout, r.stdout[-1000:]
    lines = [l for l in r.stdout.splitlines() if l.startswith('step ')]
    assert [l.split(' | ')[0] for l in lines if 'train loss' in l] == ['step 10/40', 'step 20/40', 'step 30/40', 'step 40/40']
    assert 'img/s' in lines[0] and 'ETA' in lines[0] and 'training into' in r.stdout and ': 40 steps' in r.stdout

def test_a_run_that_died_before_its_first_checkpoint_restarts_clean(tmp_path):
    args = write_configs(tmp_path, iterations=400, interval=200)
    p = subprocess.Popen([str(BIN / 'artdiff'), 'train', *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run, deadline = tmp_path / 'run', time.time() + 300
    while len(steps_logged(run) if (run / 'training_log.csv').exists() else []) < 3:
        assert p.poll() is None and time.time() < deadline, p.stderr.read() if p.poll() is not None else 'too slow'
        time.sleep(0.2)
    p.send_signal(signal.SIGKILL); p.wait()
    assert not list((run / 'checkpoints').glob('step_*'))                  # it died before its first checkpoint
    args = write_configs(tmp_path, iterations=6, interval=3)
    r = artdiff('train', *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'starting afresh' in r.stdout and len([l for l in r.stdout.splitlines() if 'afresh' in l]) == 1
    assert steps_logged(run) == [1, 2, 3, 4, 5, 6]
    import csv
    with open(run / 'training_log.csv') as f: elapsed = [float(r['elapsed_s']) for r in csv.DictReader(f)]
    assert elapsed == sorted(elapsed)                                        # one clock, from this run's start

def test_train_reads_parquet_directly(tmp_path):
    "`input_source` may name parquet (a folder here; hf://datasets/... takes the same path): no `artdiff stream` needed."
    art, _ = write_fixtures(tmp_path / 'data')
    args = write_configs(tmp_path, iterations=4, interval=2, source=str(art))
    g = yaml.safe_load((tmp_path / 'globals.yaml').read_text()); g['basic_experiment']['valid_size'] = 2
    (tmp_path / 'globals.yaml').write_text(yaml.safe_dump(g))
    r = artdiff('train', *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / 'run' / 'checkpoints' / 'step_0000004').is_dir()

def test_a_source_that_fails_at_start_is_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / 'bad.parquet'; bad.write_bytes(b'not a parquet file')
    for source, msg in [(f'ws://127.0.0.1:{free_port()}/ws', 'unreachable'), (str(bad), 'not a readable parquet file'),
                        (str(tmp_path / 'nothing.parquet'), 'no parquet files')]:
        d = tmp_path / f'cfg{abs(hash(source))}'
        r = artdiff('train', *write_configs(d, iterations=4, interval=2, source=source))
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr, (source, r.stderr[-1500:])
        assert not (d / 'run').exists()
