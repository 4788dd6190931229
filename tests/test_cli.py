"`artdiff` as a user runs it: help, version, the sheet, and one-line errors that write nothing."
import pytest
from PIL import Image
import artdiff_nb
from conftest import artdiff

def test_help_and_version():
    r = artdiff('--help')
    assert r.returncode == 0 and 'sheet' in r.stdout
    r = artdiff('--version')
    assert r.returncode == 0 and r.stdout.strip() == f"artdiff_nb {artdiff_nb.__version__}"
    r = artdiff('sheet', '--help')
    assert r.returncode == 0 and '--n-per-style' in r.stdout

COMMANDS = ('sheet', 'stream', 'prepare', 'critic', 'critique', 'train', 'generate', 'grid', 'evaluate', 'export', 'push', 'serve', 'playground')

@pytest.mark.parametrize('cmd', COMMANDS)
def test_every_command_describes_itself_with_an_example(cmd):
    r = artdiff(cmd, '--help')
    assert r.returncode == 0 and f'example:\n  artdiff {cmd}' in r.stdout, r.stdout
    assert cmd in artdiff('--help').stdout

def test_shared_options_have_one_name_and_one_default():
    "The same option means the same thing everywhere: its name, and its default, are those of every other command that has it."
    import re
    from artdiff_nb.cli import build_parser
    subs = next(a for a in build_parser()._actions if a.dest == 'command').choices
    seen = {}
    for name, p in subs.items():
        for a in p._actions:
            for flag in a.option_strings:
                if flag in ('-h', '--help'): continue
                seen.setdefault(flag, {})[name] = a.default
    for flag in ('--seed', '--n', '--ncols', '--batch-size', '--device', '--steps', '--guidance-scale'):
        defaults = {k: v for k, v in seen.get(flag, {}).items() if not (flag == '--device' and k == 'train')    # train: the config's
                    and not (flag == '--n' and k in ('generate', 'grid'))}                                       # the images of a --walk
        assert len(set(map(str, defaults.values()))) == 1, (flag, defaults)
    assert seen['--device']['generate'] == 'auto' and seen['--n']['evaluate'] == seen['--n']['push'] == 270

def test_sheet_writes_png(tmp_path):
    out = tmp_path/'sub'/'sheet.png'
    r = artdiff('sheet', '--out', out, '--size', '32', '--n-per-style', '3', '--dpi', '60')
    assert r.returncode == 0, r.stderr
    assert 'wrote' in r.stdout
    with Image.open(out) as im: assert im.format == 'PNG' and im.width > 100 and im.height > 400
    assert not list(out.parent.glob('*.tmp'))

@pytest.mark.parametrize('args, msg', [
    (['--size', '4'], 'size must be >= 8'),
    (['--size', 'big'], "invalid int value: 'big'"),
    (['--n-per-style', '0'], 'n_per_style must be >= 1'),
    (['--styles', 'Surrealism'], "unknown style 'Surrealism'"),
    (['--out', 'x.jpg'], '--out must end in .png'),
    (['--nonsense'], 'unrecognized arguments'),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, msg):
    args = args if '--out' in args else args + ['--out', tmp_path/'s.png']
    r = artdiff('sheet', *args, cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []

def test_unknown_command():
    r = artdiff('paint')
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1

def test_example_captions_are_unseen_by_the_default_stream(root):
    "The README's demo draws captions the CPU preset never trains on (checked over its first 100,000 paintings)."
    from artdiff_nb.procart import sample_painting
    caps = [l.strip() for l in (root / 'examples' / 'unseen_captions.txt').read_text().splitlines() if l.strip()]
    assert len(caps) == 8
    seen = {sample_painting(0, i).caption for i in range(100_000)}
    assert not seen & set(caps)

def test_img2img_from_the_command_line(tiny_run, tmp_path):
    "`--init-image FILE --strength S`: any picture, fitted as training images are; strength 0 gives it back; bad input is one line."
    import numpy as np
    from artdiff_nb.images import fit_image
    rgba = Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 50, 4), dtype=np.uint8), 'RGBA')
    rgba.save(tmp_path / 'init.png')
    cap = 'Claude Monet / Water Lilies / Impressionism / landscape / 1916'
    r = artdiff('generate', '--model-path', tiny_run, '--caption', cap, '--init-image', tmp_path / 'init.png', '--strength', '0', '--out', tmp_path / 'same.png')
    assert r.returncode == 0, r.stderr
    assert (np.asarray(Image.open(tmp_path / 'same.png').convert('RGB')) == fit_image(rgba, 16)).all()
    r = artdiff('generate', '--model-path', tiny_run, '--caption', cap, '--init-image', tmp_path / 'init.png', '--strength', '0.5', '--out', tmp_path / 'half.png')
    assert r.returncode == 0 and Image.open(tmp_path / 'half.png').size == (16, 16), r.stderr
    (tmp_path / 'notes.png').write_text('not a picture')
    for args, msg in ((['--init-image', tmp_path / 'notes.png'], 'not an image that can be read'), (['--init-image', tmp_path / 'init.png', '--strength', '1.5'], '--strength must be in [0, 1]')):
        r = artdiff('generate', '--model-path', tiny_run, '--caption', cap, *args, '--out', tmp_path / 'bad.png')
        assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr and not (tmp_path / 'bad.png').exists(), r.stderr

def test_negative_caption_from_the_command_line(tiny_run, tmp_path):
    "`--negative-caption`: guidance pushes away from it (another picture); an empty one is none (the same picture)."
    import numpy as np
    cap = 'Claude Monet / Water Lilies / Impressionism / landscape / 1916'
    def draw(name, *extra):
        r = artdiff('generate', '--model-path', tiny_run, '--caption', cap, '--seed', '3', *extra, '--out', tmp_path / name)
        assert r.returncode == 0, r.stderr
        return np.asarray(Image.open(tmp_path / name).convert('RGB'))
    plain, empty = draw('plain.png'), draw('empty.png', '--negative-caption', '')
    away = draw('away.png', '--negative-caption', 'Andy Warhol / Red Portrait at Noon / Pop Art / portrait / 1965')
    assert (plain == empty).all() and not (plain == away).all()

def test_a_walk_between_captions_from_the_command_line(tiny_run, tmp_path):
    "`--walk A B --n N` writes one labelled row; its ends are the two captions' own images for that seed; one caption is one line."
    import numpy as np
    from artdiff_nb.pipeline import ArtDiffPipeline
    a, b = 'Claude Monet / Water Lilies / Impressionism / landscape / 1916', 'Andy Warhol / Red Portrait at Noon / Pop Art / portrait / 1965'
    r = artdiff('generate', '--model-path', tiny_run, '--walk', a, b, '--n', '5', '--seed', '2', '--out', tmp_path / 'walk.png')
    assert r.returncode == 0 and 'a walk of 5 images' in r.stdout, r.stderr
    assert Image.open(tmp_path / 'walk.png').size[0] > Image.open(tmp_path / 'walk.png').size[1]      # one row
    pipe = ArtDiffPipeline.from_pretrained(tiny_run, device='cpu')
    row = pipe.walk(a, b, n=5, seed=2, output_type='uint8').images
    ends = pipe([a, b], seed=[2, 2], output_type='uint8').images
    assert np.abs(row[[0, -1]].astype(int) - ends.astype(int)).max() <= 1
    r = artdiff('generate', '--model-path', tiny_run, '--walk', a, '--out', tmp_path / 'bad.png')
    assert r.returncode == 2 and 'expected 2 arguments' in r.stderr and not (tmp_path / 'bad.png').exists()

def test_critique_reads_a_painting(tmp_path):
    "`artdiff critique`: what the shipped critic reads in a painted picture (of another size: fitted), as text and as JSON."
    import json
    from artdiff_nb.critic import evaluation_paintings
    from artdiff_nb.procart import render
    p = evaluation_paintings(1)[0]
    Image.fromarray(render(p, 48)).convert('RGBA').save(tmp_path / 'p.png')
    r = artdiff('critique', tmp_path / 'p.png', '--caption', p.caption)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "as the critic 'procart' reads it at 32 px" in lines[0] and [l.split()[0] for l in lines[1:7]] == ['style', 'family', 'genre', 'colour', 'time', 'era']
    assert f'genre  {p.genre} * ' in r.stdout.replace('   ', '  ')
    js = json.loads(artdiff('critique', tmp_path / 'p.png', '--json', '--top', '2').stdout)[str(tmp_path / 'p.png')]
    assert len(js['style']) == 2 and abs(sum(q for _, q in js['era'][:2]) - 1) < 0.5 and js['genre'][0][0] == p.genre
    (tmp_path / 'bad.png').write_text('not a picture')
    for args, msg in (([tmp_path / 'bad.png'], 'bad.png: not an image'), ([tmp_path / 'gone.png'], 'gone.png: not an image'),
                      ([tmp_path / 'p.png', '--top', '0'], '--top must be >= 1'), ([tmp_path / 'p.png', '--critic', tmp_path], 'no critic at')):
        r = artdiff('critique', *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr, (args, r.stderr)
