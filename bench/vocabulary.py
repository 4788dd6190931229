"""How much of real WikiArt's caption vocabulary the tokenizer built from the painter's stream knows.

The tokenizer is built exactly as `artdiff train` builds it for the procart source (5,000 captions of the stream,
`min_freq` 2, field dropout 0.1); the reference is 3,000 real WikiArt captions (`shared/data/wikiart_captions_sample.csv`).
Reported: the share of unknown tokens over whole captions and per caption field, and the captions that reach the
model as nothing but `<unk>`, `/` and `none`. Run: `.venv/bin/python bench/vocabulary.py [--csv PATH]`.
"""
import argparse
from pathlib import Path
from artdiff_nb.captions import FIELDS, MISSING, UNK_ID, read_caption_csv
from artdiff_nb.config import TrainConfig
from artdiff_nb.sources import ProcArtSource
from artdiff_nb.train import make_tokenizer

CSV = Path(__file__).resolve().parents[1].parent / 'shared/data/wikiart_captions_sample.csv'

def field_rate(tok, values):
    "Unknown share of the words of one field's non-missing values."
    ids = [i for v in values if v is not None for i in tok.encode(v)]
    return sum(i == UNK_ID for i in ids) / max(1, len(ids)), len(ids)

def main(csv=CSV):
    cfg = TrainConfig()
    tok = make_tokenizer(cfg, ProcArtSource(cfg.data.seed, 8))
    caps = read_caption_csv(csv)
    texts = [str(c) for c in caps]
    known = lambda t: [w for w, i in zip(tok.tokenize(t), tok.encode(t)) if i != UNK_ID and w not in ('/', MISSING.lower())]
    print(f"tokenizer: {len(tok)} words from the painter's stream; {len(caps)} real captions from {Path(csv).name}\n")
    print('| words | unknown |\n|---|---|')
    print(f"| whole captions | {tok.unknown_rate(texts):.1%} |")
    for f in FIELDS:
        rate, n = field_rate(tok, [getattr(c, f) for c in caps])
        print(f"| {f} ({n:,} words) | {rate:.1%} |")
    print(f"\ncaptions with no known word but '/' and 'none': {sum(not known(t) for t in texts):,} of {len(texts):,}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--csv', default=CSV); main(ap.parse_args().csv)
