"""The demo's pictures: a photograph's feature maps under ``dropout2d`` and the structured family.

The structured family: ``drop_block2d`` and ``drop_path`` on the same maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._functional import drop_block2d, drop_path, dropout2d
from ._random import Generator

# A small fixed bank of 3x3 filters: what the first layer of a CNN might have learned.
FILTERS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "blur": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "edges x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "edges y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
    "diagonal": [[2, -1, -1], [-1, 2, -1], [-1, -1, 2]],
}


def feature_maps(image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Convolve a grayscale image with ``FILTERS``: a ``(C, H, W)`` float32 stack."""
    windows = np.lib.stride_tricks.sliding_window_view(image, (3, 3))
    bank = np.asarray(list(FILTERS.values()), dtype=np.float32)
    maps: np.ndarray[Any, Any] = np.einsum("hwij,cij->chw", windows, bank).astype(np.float32)
    return maps


def _photograph() -> np.ndarray[Any, Any]:
    from skimage import color, data, transform

    photo = data.astronaut()  # type: ignore[no-untyped-call]  # shipped: no download
    small = transform.resize(color.rgb2gray(photo), (160, 160), anti_aliasing=True)  # type: ignore[no-untyped-call]
    return np.asarray(small, dtype=np.float32)


def _pyplot() -> Any:
    """The pyplot module on the Agg backend; None where matplotlib or skimage is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import skimage  # noqa: F401
    except ImportError:
        return None
    return plt


def make(path: str, p: float = 0.5, seed: int = 3) -> bool:
    """Draw the picture to ``path``; ``False`` if matplotlib or scikit-image is missing."""
    plt = _pyplot()
    if plt is None:
        return False
    maps = feature_maps(_photograph())  # (C, H, W): one unbatched image
    train = dropout2d(maps, p, True, generator=Generator(seed))
    evaluated = dropout2d(maps, p, False)
    rows: list[tuple[str, np.ndarray[Any, Any]]] = [
        ("feature maps (C, H, W)", maps),
        (f"dropout2d, train, p={p}", train),
        ("dropout2d, eval: unchanged", evaluated),
    ]
    torch_row = _torch_rows(maps, p, seed)
    rows += torch_row
    title = "spatial_dropout.dropout2d on an unbatched (C, H, W) stack: whole channels drop"
    _draw(plt, path, rows, maps, p, title)
    return True


def make_structured(path: str, seed: int = 3) -> bool:
    """The structured family on the same maps; ``False`` if matplotlib or scikit-image is missing.

    DropBlock (each channel its own blocks, then blocks shared by every channel) and DropPath
    (the eight maps read as a batch of eight one-channel samples: whole samples drop).
    """
    plt = _pyplot()
    if plt is None:
        return False
    maps = feature_maps(_photograph())
    g = Generator(seed)
    rows: list[tuple[str, np.ndarray[Any, Any]]] = [
        ("feature maps (C, H, W)", maps),
        ("drop_block2d p=0.3, b=31", drop_block2d(maps, 0.3, 31, generator=g)),
        ("... share_channels=True", drop_block2d(maps, 0.3, 31, share_channels=True, generator=g)),
        ("drop_path p=0.5 (N=8 samples)", drop_path(maps[:, None], 0.5, generator=g)[:, 0]),
    ]
    title = "drop_block2d drops square blocks of each map; drop_path drops whole samples"
    _draw(plt, path, rows, maps, 0.5, title)
    return True


def _draw(
    plt: Any,
    path: str,
    rows: list[tuple[str, np.ndarray[Any, Any]]],
    maps: np.ndarray[Any, Any],
    p: float,
    heading: str,
) -> None:
    names = list(FILTERS)
    fig, axes = plt.subplots(len(rows), len(names), figsize=(2 * len(names), 2.3 * len(rows)))
    scale = np.abs(maps).max(axis=(1, 2), keepdims=True) * 2 / (1 - p)
    for r, (title, stack) in enumerate(rows):
        for c, name in enumerate(names):
            ax = axes[r, c]
            plane = stack[c]
            dropped = not plane.any()
            ax.imshow(plane / scale[c], cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=10)
            if c == 0:
                ax.set_ylabel(title, fontsize=9)
            if dropped and r > 0:
                ax.text(
                    0.5,
                    0.5,
                    "DROPPED",
                    color="red",
                    ha="center",
                    va="center",
                    fontsize=11,
                    weight="bold",
                    transform=ax.transAxes,
                )
    fig.suptitle(heading)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _torch_rows(maps: np.ndarray[Any, Any], p: float, seed: int) -> list[tuple[str, Any]]:
    """PyTorch's F.dropout2d reads (C, H, W) as (N, C, L) and drops rows; ours, channels."""
    try:
        import torch
    except ImportError:
        return []
    import warnings

    t = torch.from_numpy(maps)
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its "3D input" warning: the point of this row
        theirs = torch.nn.functional.dropout2d(t, p).numpy()
    torch.manual_seed(seed)
    ours = dropout2d(t, p).numpy()
    return [("torch F.dropout2d: drops rows", theirs), ("ours on torch: drops channels", ours)]
