"""The seed's rank table, for all three dropoutNd and both data formats."""

from __future__ import annotations

import numpy as np
import pytest

import spatial_dropout as sd
from spatial_dropout import mask_shape

from conftest import Backend

FUNCS = {1: sd.dropout1d, 2: sd.dropout2d, 3: sd.dropout3d}


@pytest.mark.parametrize(
    ("shape", "n", "expected"),
    [
        ((), 2, ()),
        ((7,), 2, (7,)),
        ((5, 6), 2, (5, 1)),
        ((3, 5, 6), 2, (3, 1, 1)),
        ((2, 3, 5, 6), 2, (2, 3, 1, 1)),
        ((2, 3, 4, 5, 6), 2, (2, 3, 4, 5, 6)),
        ((7,), 1, (7, 1)[:1]),  # rank n = 1: the single dim is channels
        ((3, 9), 1, (3, 1)),
        ((2, 3, 9), 1, (2, 3, 1)),
        ((2, 3, 4, 9), 1, (2, 3, 4, 9)),
        ((4, 5, 6), 3, (4, 1, 1)),
        ((3, 4, 5, 6), 3, (3, 1, 1, 1)),
        ((2, 3, 4, 5, 6), 3, (2, 3, 1, 1, 1)),
        ((5, 6), 3, (5, 6)),
        ((1, 2, 3, 4, 5, 6), 3, (1, 2, 3, 4, 5, 6)),
    ],
)
def test_rank_table_channels_first(shape, n, expected):
    assert mask_shape(shape, n) == expected


@pytest.mark.parametrize(
    ("shape", "n", "expected"),
    [
        ((5, 6), 2, (1, 6)),
        ((5, 6, 3), 2, (1, 1, 3)),
        ((2, 5, 6, 3), 2, (2, 1, 1, 3)),
        ((9, 3), 1, (1, 3)),
        ((2, 9, 3), 1, (2, 1, 3)),
        ((2, 4, 5, 6, 3), 3, (2, 1, 1, 1, 3)),
        ((4, 5, 6, 3), 3, (1, 1, 1, 3)),
        ((7,), 2, (7,)),
        ((2, 3, 4, 5, 6), 2, (2, 3, 4, 5, 6)),
    ],
)
def test_rank_table_channels_last(shape, n, expected):
    assert mask_shape(shape, n, "channels_last") == expected


def _groups_share_fate(y: np.ndarray, mshape: tuple[int, ...]) -> bool:
    """Every entry of a mask group is dropped, or every one is kept (input all ones)."""
    dropped = y == 0
    shared = tuple(i for i, m in enumerate(mshape) if m == 1 and y.shape[i] != 1)
    return bool((dropped.all(axis=shared) | (~dropped).all(axis=shared)).all())


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("fmt", ["channels_first", "channels_last"])
@pytest.mark.parametrize("rank", [0, 1, 2, 3, 4, 5, 6])
def test_groups_share_one_fate(backend: Backend, n, fmt, rank):
    shape = (3, 4, 5, 3, 2, 2)[:rank]
    x = backend.asarray(np.ones(shape, dtype=np.float32))
    y = backend.to_numpy(backend.call(FUNCS[n], x, 0.5, generator=rank, data_format=fmt))
    mshape = mask_shape(shape, n, fmt)
    assert _groups_share_fate(y, mshape)
    # and the mask has exactly the table's granularity: the drawn mask has that shape
    mask = backend.call(sd.dropout_mask, x, 0.5, kind=f"dropout{n}d", data_format=fmt, generator=1)
    assert tuple(backend.to_numpy(mask).shape) == mshape


def test_seed_shapes_drop_whole_channels():
    x = np.ones((16, 64, 8, 8), dtype=np.float32)
    y = sd.dropout2d(x, 0.3, generator=0)
    planes = y.reshape(16 * 64, -1)
    dropped = (planes == 0).all(axis=1)
    kept = (planes == np.float32(1 / np.float32(0.7))).all(axis=1)
    assert (dropped ^ kept).all()
    assert 0 < dropped.sum() < planes.shape[0]


def test_unbatched_3d_drops_channels_not_rows():
    """PyTorch reads (C, H, W) as (N, C, L) and drops rows; the seed says channels."""
    x = np.ones((6, 5, 4))
    y = sd.dropout2d(x, 0.5, generator=sd.Generator(3))
    assert ((y == 0).all(axis=(1, 2)) | (y != 0).all(axis=(1, 2))).all()


def test_channels_last_draws_the_same_channels_as_channels_first(backend: Backend):
    """A channel's fate depends on its logical (n, c), not on the layout."""
    nchw = np.random.default_rng(0).standard_normal((4, 6, 5, 5)).astype(np.float32)
    nhwc = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1))
    a = sd.dropout2d(nchw, 0.5, generator=sd.Generator(9))
    b = backend.call(
        sd.dropout2d, backend.asarray(nhwc), 0.5, generator=9, data_format="channels_last"
    )
    np.testing.assert_array_equal(a.transpose(0, 2, 3, 1), backend.to_numpy(b))


def test_feature_alpha_dropout_mask_shape(backend: Backend):
    x = backend.asarray(np.zeros((3, 4, 5, 6, 7), dtype=np.float32))
    y = backend.to_numpy(backend.call(sd.feature_alpha_dropout, x, 0.5, True, generator=0))
    assert (y == y[:, :, :1, :1, :1]).all()
    mask = backend.call(sd.dropout_mask, x, 0.5, kind="feature_alpha_dropout", generator=0)
    assert tuple(backend.to_numpy(mask).shape) == (3, 4, 1, 1, 1)
