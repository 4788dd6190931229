"""Post captions to `artdiff serve` and save the images, in the manner of EIR's request example.

    artdiff serve --model-path runs/procart-cpu &
    python examples/request_example.py --url http://127.0.0.1:8000 --out-dir generated

The answer is EIR's: each result's "image" is the base64 of a float32 array, channels first, in [0, 1].
It is decoded exactly as EIR's decoder does: reshape to C x H x W, transpose, clip, scale to uint8.
"""
import argparse, base64
from pathlib import Path

import numpy as np
import requests
from PIL import Image

CAPTIONS = [
    "Hiroshige / Crimson Harbour at Night / Ukiyo e / cityscape / 1840",
    "Claude Monet / Violet Bridge at Dawn / Impressionism / cityscape / 1899",
    "Mark Rothko / Composition in Orange at Dusk / Color Field Painting / abstract painting / 1958",
    "Andy Warhol / Girl in Green at Night / Pop Art / portrait / 1964",
]

def encode_image_to_base64(path) -> str:
    "EIR's request items carry an input image; text-to-image ignores it, but the format allows it."
    return base64.b64encode(Path(path).read_bytes()).decode()

def decode_image(b64: str, shape) -> np.ndarray:
    arr = np.frombuffer(base64.b64decode(b64), dtype=np.float32).reshape(shape)   # C x H x W
    arr = np.clip(arr.transpose(1, 2, 0), 0, 1)                                  # H x W x C
    return (arr * 255).astype(np.uint8)

def main(url: str, out_dir: str, seed: int = 0, image=None):
    placeholder = encode_image_to_base64(image) if image else None
    payload = [{"caption": c, **({"image": placeholder} if placeholder else {})} for c in CAPTIONS]
    info = requests.get(f"{url}/info", timeout=30).json()
    size = info["image"]["size"]
    r = requests.post(f"{url}/predict", json=payload, params={"seed": seed}, timeout=600)
    r.raise_for_status()
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    for i, (caption, result) in enumerate(zip(CAPTIONS, r.json()["result"])):
        img = decode_image(result["image"], (3, size, size))
        path = out / f"image_{i}.png"
        Image.fromarray(img).resize((size * 4, size * 4), Image.NEAREST).save(path)
        print(f"{path}: {caption} (seed {result['seed']})")

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--out-dir", default="generated")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--image", help="a picture to attach to every item, as EIR's request example does (ignored by the model)")
    a = ap.parse_args()
    main(a.url.rstrip("/"), a.out_dir, a.seed, a.image)
