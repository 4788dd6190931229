"""Data-parallel training on several processes, as users launch it: `artdiff train --devices 2` (gloo on this CPU),
torchrun and `accelerate launch`; two processes of batch 16 against one of batch 32; one writer; a process killed and
the run resumed; each process's own part of the painter, of parquet shards and of a stream server."""
import json, os, signal, subprocess, time
from pathlib import Path

import numpy as np
import pyarrow as pa, pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from conftest import BIN, artdiff, run, write_configs, write_fixtures, start_stream, stop

def configs(d: Path, bs: int, iterations: int, interval: int, valid: int = 16, source: str = 'procart', workers: int = 0, **globals_extra):
    """EIR's five files of a tiny run (16 px), with batch `bs` per process and caption dropout on, so its draws are tested too;
    `workers` decode processes per training process."""
    return write_configs(d, iterations=iterations, interval=interval, source=source,
                         basic_experiment={'output_folder': str(d / 'run'), 'batch_size': bs, 'valid_size': valid, 'iterations': iterations,
                                           'dataloader_workers': workers},
                         training={'ema_decay': 0.9, 'n_sample_captions': 2, 'caption_dropout': 0.25}, **globals_extra)

def weights(run: Path, step: int, kind='model'):
    return load_file(run / 'checkpoints' / f'step_{step:07d}' / f'{kind}.safetensors')

def max_diff(a, b): return max((a[k] - b[k]).abs().max().item() for k in a)

def rows(run: Path):
    import csv
    with open(run / 'training_log.csv') as f: return list(csv.DictReader(f))

def files(d: Path) -> set:
    return {str(p.relative_to(d)) for p in d.rglob('*') if p.is_file()}

def test_two_processes_of_16_train_as_one_of_32(tmp_path):
    one, two = tmp_path / 'one', tmp_path / 'two'
    measured = {'evaluation_checkpoint': {'checkpoint_interval': 3, 'sample_interval': 3, 'n_saved_models': 2, 'log_interval': 1,
                                          'n_metric_captions': 4, 'metrics_interval': 6, 'metrics_budget': 1.0}}   # the main process measures alone
    r1 = artdiff('train', *configs(one, 32, 6, 3, **measured), timeout=600)
    assert r1.returncode == 0, r1.stderr[-2000:]
    before = set(os.listdir(tmp_path))
    r2 = artdiff('train', *configs(two, 16, 6, 3, **measured), '--devices', '2', timeout=600)
    assert r2.returncode == 0, r2.stderr[-2000:]
    assert 'on 2 processes (effective batch 32)' in r2.stdout and r2.stdout.count('done: ') == 1, r2.stdout
    assert r2.stdout.count('metrics at step 6: style') == 1 and (two / 'run' / 'training_curve_FIDELITY.png').exists(), r2.stdout
    for kind in ('model', 'ema'):
        assert max_diff(weights(one / 'run', 6, kind), weights(two / 'run', 6, kind)) < 1e-5, kind
    l1, l2 = rows(one / 'run'), rows(two / 'run')
    assert [r['step'] for r in l2] == [r['step'] for r in l1]                  # one writer: each row once
    for a, b in zip(l1, l2):                                                   # the losses of the whole batch, and of the whole validation set
        for k in ('train_loss', 'valid_loss'):
            if a[k]: assert abs(float(a[k]) - float(b[k])) < 1e-5, (k, a, b)
    assert set(os.listdir(tmp_path)) == before | {'two'} and set(os.listdir(two)) == set(os.listdir(one))   # nothing written elsewhere
    assert {f.replace('/two/', '/') for f in files(two / 'run')} == {f for f in files(one / 'run')}
    cfg = (two / 'run' / 'config.yaml').read_text()
    assert 'devices: 2' in cfg and 'batch_size: 16' in cfg
    state = json.loads((two / 'run' / 'checkpoints' / 'step_0000006' / 'state.json').read_text())
    assert len(state['rng_processes']) == 1                                    # process 1's RNG state beside process 0's
    assert 'rng.1.torch' in load_file(two / 'run' / 'checkpoints' / 'step_0000006' / 'training_state.safetensors')

def test_torchrun_and_accelerate_launch(tmp_path):
    "The same run started by hand with torchrun and with `accelerate launch` (its multi-process launcher works on CPUs too)."
    ref = tmp_path / 'ref'
    assert artdiff('train', *configs(ref, 16, 4, 2), '--devices', '2', timeout=600).returncode == 0
    for name, launcher in [('torchrun', [BIN / 'torchrun', '--standalone', '--nproc-per-node', '2']),
                           ('accelerate', [BIN / 'accelerate', 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1',
                                           '--mixed_precision', 'no', '--dynamo_backend', 'no'])]:
        d = tmp_path / name
        r = run(*launcher, '-m', 'artdiff_nb.cli', 'train', *configs(d, 16, 4, 2), timeout=600, env={'OMP_NUM_THREADS': '1'})
        assert r.returncode == 0, (name, r.stderr[-2000:])
        assert r.stdout.count('done: ') == 1, (name, r.stdout)
        assert max_diff(weights(ref / 'run', 4), weights(d / 'run', 4)) < 1e-5, name
        assert 'devices: 2' in (d / 'run' / 'config.yaml').read_text()

def children(pid: int) -> dict:
    "The training processes a launcher started, by rank."
    import psutil
    out = {}
    for c in psutil.Process(pid).children(recursive=True):
        try: rank, cmd = c.environ().get('RANK'), ' '.join(c.cmdline())
        except psutil.Error: continue
        if 'multiprocessing' in cmd: continue                        # a decode worker of a training process (it inherits RANK)
        if rank is not None: out[int(rank)] = c
    return out

@pytest.fixture(scope='module')
def prepared16(tmp_path_factory):
    "WikiArt-shaped paintings (two of them corrupt), prepared at 16 px into 4 shards."
    from artdiff_nb.prepare import prepare, wikiart_like
    d = tmp_path_factory.mktemp('wikiart')
    prepare(str(wikiart_like(d / 'raw', n=120, files=3, long_side=(300, 500))), d / 'p16', size=16, shards=4, workers=1, progress=False)
    return d / 'p16'

@pytest.mark.parametrize('data', ['procart', 'prepared'])
def test_kill_one_process_resume_and_finish(tmp_path, data, request):
    """Killed with SIGKILL mid-run and resumed, a 2-process run ends with the weights of an unbroken one: no sample lost or
    repeated, in the same order. `prepared`: WikiArt-shaped shards, shuffled, each process decoding with 2 worker processes."""
    straight, broken = tmp_path / 'straight', tmp_path / 'broken'
    data_args = dict(source=str(request.getfixturevalue('prepared16')), workers=2) if data == 'prepared' else {}
    assert artdiff('train', *configs(straight, 8, 40, 10, **data_args), '--devices', '2', timeout=900).returncode == 0
    p = subprocess.Popen([str(BIN / 'artdiff'), 'train', *map(str, configs(broken, 8, 40, 10, **data_args)), '--devices', '2'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if json.loads((broken / 'run' / 'checkpoints' / 'latest').read_text())['step'] >= 20: break
            except (OSError, ValueError): pass
            assert p.poll() is None, p.stderr.read()[-2000:]
            time.sleep(0.05)
        procs = children(p.pid)
        assert sorted(procs) == [0, 1]
        time.sleep(0.5)                                                # somewhere after step 20, maybe inside a checkpoint
        procs[1].send_signal(signal.SIGKILL)
        out, err = p.communicate(timeout=120)                           # the others are stopped: no hang
    finally:
        if p.poll() is None: p.kill(); p.wait()
    assert p.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'process 1 of 2 was killed by SIGKILL' in lines[0] and f'--resume {broken / "run"}' in lines[0], err
    assert not any(c.is_running() and c.status() != 'zombie' for c in procs.values())
    ckpts = sorted((broken / 'run' / 'checkpoints').glob('step_*'))
    assert ckpts and not list((broken / 'run' / 'checkpoints').glob('step_0000040'))
    for d in ckpts:                                                     # nothing under a real name is corrupt
        for f in ('model.safetensors', 'ema.safetensors', 'training_state.safetensors'): load_file(d / f)
        json.loads((d / 'state.json').read_text())
    r = artdiff('train', '--resume', broken / 'run', '--devices', '3')
    assert r.returncode == 2 and 'resume it with --devices 2' in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = artdiff('train', '--resume', broken / 'run', timeout=900)       # on 2 processes again, as config.yaml says
    assert r.returncode == 0, r.stderr[-2000:]
    for kind in ('model', 'ema'):                                       # as if nothing had happened
        assert max_diff(weights(straight / 'run', 40, kind), weights(broken / 'run', 40, kind)) < 1e-5, kind
    steps = [int(r['step']) for r in rows(broken / 'run') if r['train_loss']]
    assert steps == sorted(set(steps)) and steps[-1] == 40

def test_launch_mistakes_are_one_line(tmp_path):
    args = configs(tmp_path, 8, 4, 2)
    for extra, msg in [(['--devices', '0'], '--devices must be >= 1')]:
        r = artdiff('train', *args, *extra)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / 'run').exists()
    g = tmp_path / 'globals.yaml'
    g.write_text(g.read_text().replace('valid_size: 16', 'valid_size: 16\naccelerator:\n  devices: 2'))
    from artdiff_nb.config import load_configs
    from artdiff_nb.train import train
    with pytest.raises(ValueError, match='devices: 2 trains on 2 processes: start them with'):
        train(load_configs(args[1], args[3:5], args[6], args[8]), progress=False)
    assert not (tmp_path / 'run').exists()

# ---- each process its own part of the data
def test_parquet_parts_are_disjoint_and_whole(tmp_path):
    from artdiff_nb.sources import ParquetSource
    img = pa.struct([('bytes', pa.binary()), ('path', pa.string())])
    from conftest import jpeg
    for f, n in (('a', 10), ('b', 7)):                                  # row groups of 3: 4 + 3 groups
        t = pa.table({'image': pa.array([{'bytes': jpeg(20, 20, i), 'path': None} for i in range(n)], type=img),
                      'title': [f'{f}{i}' for i in range(n)], 'style': ['Baroque'] * n})
        pq.write_table(t, tmp_path / f'{f}.parquet', row_group_size=3)
    whole = [s.sample_id for s in ParquetSource(tmp_path, 16, loop=False).samples(100)]
    assert len(whole) == 17
    for world in (2, 3, 8):                                             # 8 parts of 7 groups: dealt by rows instead
        parts = []
        for rank in range(world):
            s = ParquetSource(tmp_path, 16, loop=False); s.shard(rank, world)
            parts.append([x.sample_id for x in s.samples(100)])
        assert sorted(sum(parts, [])) == sorted(whole), world
        assert all(p for p in parts), world
    s = ParquetSource(tmp_path, 16, loop=False); s.shard(1, 2)
    mine = [x.sample_id for x in s.samples(100)]
    s.reset(); s.advance(3); assert [x.sample_id for x in s.samples(100)] == mine[3:]   # advance moves without decoding

def test_two_processes_from_parquet_and_from_a_stream_server(tmp_path):
    art, _ = write_fixtures(tmp_path / 'pq')
    d = tmp_path / 'parquet'
    args = configs(d, 2, 4, 2, valid=2)
    for f in ('inputs_image.yaml', 'inputs_caption.yaml'):
        (d / f).write_text((d / f).read_text().replace('input_source: procart', f'input_source: {art}'))
    r = artdiff('train', *args, '--devices', '2', timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    p, port = start_stream('--image-size', '16')
    try:
        d = tmp_path / 'ws'
        args = configs(d, 4, 4, 2)
        for f in ('inputs_image.yaml', 'inputs_caption.yaml'):
            (d / f).write_text((d / f).read_text().replace('input_source: procart', f'input_source: ws://127.0.0.1:{port}/ws'))
        r = artdiff('train', *args, '--devices', '2', timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        from artdiff_nb.stream import WebSocketSource
        src = WebSocketSource(f'ws://127.0.0.1:{port}/ws', image_size=16)
        status = src.status(); src.close()
        assert status['validation_ids_count'] == 16                     # told once, by the main process, for all
        assert status['samples_served'] >= 16 + 2 * 4 * 4                # validation, then 4 steps of 4 for each of 2 processes
    finally: stop(p)

def test_stream_connections_of_two_processes_get_disjoint_samples(tmp_path):
    from artdiff_nb.stream import StreamServer, WebSocketSource
    from artdiff_nb.sources import ProcArtSource
    server = StreamServer(ProcArtSource(seed=0, image_size=16)).start()
    try:
        url = f'ws://127.0.0.1:{server.port}/ws'
        a, b = WebSocketSource(url, worker_id=0), WebSocketSource(url, worker_id=1)
        for r, s in enumerate((a, b)): s.shard(r, 2)
        ids_a, ids_b = {x.sample_id for x in a.samples(40)}, {x.sample_id for x in b.samples(40)}
        assert len(ids_a) == len(ids_b) == 40 and not ids_a & ids_b
        assert sorted(server.status()['workers']) == [0, 1]
        a.close(); b.close()
    finally: server.stop()

@pytest.mark.parametrize('to', ['group', 'launcher'])
def test_ctrl_c_stops_every_process_with_one_line(tmp_path, to):
    """Ctrl-C in a terminal reaches the launcher and every process (`group`); `kill -INT` reaches the launcher alone,
    which passes it on: either way every process stops, and the run says once how to continue."""
    p = subprocess.Popen([str(BIN / 'artdiff'), 'train', *map(str, configs(tmp_path, 8, 200, 10)), '--devices', '2'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not (tmp_path / 'run' / 'checkpoints' / 'latest').exists():
            assert p.poll() is None, p.stderr.read()[-2000:]
            time.sleep(0.05)
        procs = children(p.pid)
        if to == 'group': os.killpg(p.pid, signal.SIGINT)                # what the terminal does: the whole process group
        else: os.kill(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None: os.killpg(p.pid, signal.SIGKILL); p.wait()
    assert p.returncode == 130, (p.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('interrupted: finished checkpoints are kept') and '--resume' in lines[0], err
    assert not any(c.is_running() and c.status() != 'zombie' for c in procs.values())
