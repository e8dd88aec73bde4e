"""``python -m spatial_dropout demo``: the seed's dropout2d examples, run on NumPy."""

from __future__ import annotations

import math
import time

import numpy as np

from ._functional import dropout2d
from ._random import manual_seed
from ._shapes import mask_shape

# (label, shape, p, training), in the seed's order
EXAMPLES: list[tuple[str, tuple[int, ...], float, bool]] = [
    ("ImageNet batch", (32, 3, 224, 224), 0.2, True),
    ("CNN classification", (16, 64, 32, 32), 0.3, True),
    ("segmentation encoder", (8, 256, 64, 64), 0.2, True),
    ("unbatched (C, H, W)", (64, 224, 224), 0.1, True),
    ("train vs eval: train", (8, 32, 28, 28), 0.2, True),
    ("train vs eval: eval", (8, 32, 28, 28), 0.2, False),
    ("shallow layer", (4, 64, 56, 56), 0.1, True),
    ("deep layer", (4, 512, 7, 7), 0.5, True),
    ("feature pyramid P2", (8, 256, 56, 56), 0.2, True),
    ("feature pyramid P3", (8, 256, 28, 28), 0.2, True),
    ("feature pyramid P4", (8, 256, 14, 14), 0.2, True),
    ("feature pyramid P5", (8, 256, 7, 7), 0.2, True),
    ("residual block", (32, 128, 32, 32), 0.1, True),
]


def run(seed: int = 0, picture: str | None = "dropout2d_demo.png") -> None:
    """Print, for each example, the shape and the fraction of dropped channels next to ``p``."""
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    print(f"spatial_dropout.dropout2d on NumPy (float32), global stream seeded with {seed}\n")
    header = (
        f"{'example':<22} {'shape':<20} {'p':>4} {'channels':>8} {'dropped':>8} "
        f"{'+-3 sd':>6} {'ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for label, shape, p, training in EXAMPLES:
        x = rng.standard_normal(shape, dtype=np.float32)
        start = time.perf_counter()
        y = dropout2d(x, p, training)
        ms = (time.perf_counter() - start) * 1e3
        groups = math.prod(mask_shape(shape, 2))
        planes = y.reshape(groups, -1)
        frac = float((planes == 0).all(axis=1).mean())
        row = f"{label:<22} {shape!s:<20} {p:>4} {groups:>8} {frac:>8.3f}"
        if training:
            print(f"{row} {3 * math.sqrt(p * (1 - p) / groups):>6.3f} {ms:>7.2f}")
        else:
            print(f"{row} {'returns the input itself' if y is x else 'COPIED (unexpected)'}")
    if picture:
        from . import _picture

        if _picture.make(picture):
            print(f"\npicture: {picture} (feature maps of a photograph before and after dropout2d)")
        else:
            print(
                "\nno picture: it needs matplotlib and scikit-image;"
                " pip install 'spatial-dropout[demo]'"
            )
    print(
        "\n'dropped' is the measured fraction of all-zero channels; it should lie within "
        "p +- 3 sd.\nAn unbatched (C, H, W) input drops whole channels, as the seed documents."
    )
