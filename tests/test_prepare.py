"""`artdiff prepare` as a user runs it: killed with SIGKILL mid-way and started again, it ends as an unbroken pass; the folder it
writes trains a model with two decode workers, and resumes exactly."""
import csv, json, os, signal, subprocess, time
import pyarrow.parquet as pq
from conftest import BIN, artdiff
from artdiff_nb.prepare import wikiart_like

def tables(d):
    return {p.name: pq.read_table(p).to_pylist() for p in sorted(d.glob('*.parquet'))}

def test_prepare_killed_and_started_again_matches_an_unbroken_pass(tmp_path):
    raw = wikiart_like(tmp_path / 'raw', n=96, files=3, corrupt=(5, 50), long_side=(1800, 2000))
    r = artdiff('prepare', raw, '--size', 32, '--out', tmp_path / 'whole', '--shards', 12, '--workers', 2)
    assert r.returncode == 0, r.stderr
    assert 'prepared 94 rows at 32px into 12 shards' in r.stdout
    p = subprocess.Popen([str(BIN / 'artdiff'), 'prepare', str(raw), '--size', '32', '--out', str(tmp_path / 'cut'), '--shards', '12',
                          '--workers', '1'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)   # one shard at a time: killed between two
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / 'cut').glob('train-*.parquet')) and p.poll() is None: time.sleep(0.01)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    done = len(list((tmp_path / 'cut').glob('train-*.parquet')))
    assert done < 12 and not (tmp_path / 'cut' / 'prepared.json').exists()              # it really was cut short
    r = artdiff('prepare', raw, '--size', 32, '--out', tmp_path / 'cut', '--shards', 12, '--workers', 2)    # continued with two workers
    assert r.returncode == 0, r.stderr
    assert tables(tmp_path / 'cut') == tables(tmp_path / 'whole')
    m = json.loads((tmp_path / 'cut' / 'prepared.json').read_text())
    assert m['rows'] == 94 and len(m['corrupt']) == 2 and m['shards'] == 12

def test_prepare_refuses_bad_input_with_one_line(tmp_path):
    r = artdiff('prepare', tmp_path / 'nothing', '--out', tmp_path / 'o')
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'no parquet files' in r.stderr and not (tmp_path / 'o').exists()
    raw = wikiart_like(tmp_path / 'raw', n=10, files=1, corrupt=())
    r = artdiff('prepare', raw, '--out', tmp_path / 'o', '--shards', 11)
    assert r.returncode == 2 and 'shards must be in [1, 10], got 11' in r.stderr and not (tmp_path / 'o').exists()

def test_train_from_prepared_shards_with_decode_workers_and_resume(tmp_path):
    raw = wikiart_like(tmp_path / 'raw', n=60, files=2, long_side=(400, 600))
    assert artdiff('prepare', raw, '--size', 16, '--out', tmp_path / 'p', '--workers', 2).returncode == 0
    src = str(tmp_path / 'p')
    sets = ['--set', f'inputs_image.input_info.input_source={src}', '--set', f'inputs_caption.input_info.input_source={src}',
            '--set', f'output_image.output_info.output_source={src}', '--set', 'globals.basic_experiment.dataloader_workers=2',
            '--set', 'globals.basic_experiment.valid_size=8', '--set', 'globals.training.n_sample_captions=0']
    r = artdiff('train', '--preset', 'tiny', *sets, '--output-folder', tmp_path / 'run', '--max-steps', 10, '--device', 'cpu', timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    r = artdiff('train', '--resume', tmp_path / 'run', '--max-steps', 20, '--device', 'cpu', timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    with open(tmp_path / 'run' / 'training_log.csv') as f: rows = list(csv.DictReader(f))
    assert [r['step'] for r in rows if r['valid_loss']] == ['10', '20']

def test_a_critic_trained_on_the_data_measures_a_run_on_it(tmp_path):
    "`artdiff critic` on prepared WikiArt-shaped shards; a run that names it is measured with it while training, by evaluate and in its card."
    raw = wikiart_like(tmp_path / 'raw', n=160, files=2, long_side=(400, 600), rows_per_group=20)
    assert artdiff('prepare', raw, '--size', 16, '--out', tmp_path / 'p', '--workers', 2).returncode == 0
    src, crit = str(tmp_path / 'p'), tmp_path / 'critic'
    r = artdiff('critic', '--data', src, '--size', 16, '--valid-size', 16, '--epochs', 2, '--min-count', 2, '--out', crit)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'trained on 142 rows; on the 16 held out it reads style' in r.stdout           # 160 rows, 2 corrupt, 16 held out
    info = json.loads((crit / 'critic.json').read_text())
    assert set(info['accuracy']) == {'style', 'family', 'genre', 'artist', 'era'} and info['heads']['era'][0] == 'before 1600'
    sets = [a for k in ('inputs_image.input_info', 'inputs_caption.input_info') for a in ('--set', f'{k}.input_source={src}')]
    sets += ['--set', f'output_image.output_info.output_source={src}', '--set', 'globals.basic_experiment.valid_size=16',
             '--set', 'globals.training.n_sample_captions=0', '--set', 'globals.evaluation_checkpoint.n_metric_captions=8']
    r = artdiff('train', '--preset', 'tiny', *sets, '--output-folder', tmp_path / 'no', '--max-steps', 4, '--device', 'cpu')
    assert r.returncode == 2 and 'cannot read the real paintings' in r.stderr and not (tmp_path / 'no').exists()
    sets += ['--set', f'globals.evaluation_checkpoint.critic={crit}']
    r = artdiff('train', '--preset', 'tiny', *sets, '--output-folder', tmp_path / 'run', '--max-steps', 4, '--device', 'cpu', timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    with open(tmp_path / 'run' / 'training_log.csv') as f: measured = [row for row in csv.DictReader(f) if row['fidelity_artist']]
    assert measured and measured[-1]['fidelity_colour'] == '' and float(measured[-1]['fd_critic']) > 0      # its fields, not the painter's
    r = artdiff('evaluate', '--model-path', tmp_path / 'run', '--n', 8, '--steps', 2)
    assert r.returncode == 0, r.stderr[-3000:]
    assert '| artist |' in r.stdout and '| colour |' not in r.stdout
    ev = json.loads(next((tmp_path / 'run' / 'evaluations').glob('*.json')).read_text())
    assert ev['critic'] == 'p' and ev['n'] == 8 and ev['critic_info']['valid_size'] == 16
    r = artdiff('export', '--model-path', tmp_path / 'run', '--out', tmp_path / 'model', '--n', 8)
    assert r.returncode == 0, r.stderr[-3000:]
    card = (tmp_path / 'model' / 'README.md').read_text()
    assert "art critic `p`" in card and 'caption_fidelity_artist' in card
    assert (tmp_path / 'model' / 'critic.safetensors').is_file()                  # the model folder carries its critic
    r = artdiff('evaluate', '--model-path', tmp_path / 'model', '--n', 4, '--steps', 2, cwd=tmp_path)    # writes evaluations/ here
    assert r.returncode == 0 and '| artist |' in r.stdout, r.stderr[-3000:]
    assert list((tmp_path / 'evaluations').glob('*/*.json'))
