"""Parity with the peers where SPEC promises it, against the installed torchvision and timm.

After the same ``torch.manual_seed``: ``drop_path`` keeps the values ``timm.layers.drop_path``
and ``torchvision.ops.stochastic_depth`` keep, bit for bit; ``drop_block2d/3d(...,
normalize="batch")`` drops the positions torchvision's ``drop_block2d/3d`` drops. And the peers'
bugs that docs/structured.md shows stay what it says on the pinned versions.
"""

from __future__ import annotations

import math

import pytest

import spatial_dropout as sd

from peers import import_peer

torch = import_peer("torch")


def _kept_bits_equal(ours, theirs):
    """Same positions dropped (ours ``+0.0``), kept values bit for bit."""
    kept = theirs != 0
    assert torch.equal(ours != 0, kept)
    assert torch.equal(ours[kept], theirs[kept])
    assert not torch.signbit(ours[~kept]).any()


def _data(shape, dtype):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.5
    return x.to(dtype)  # in [0.5, 1.5): never 0, so a 0 is a drop


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(64, 17, 8), (32, 16, 5, 5)])
def test_drop_path_keeps_timms_values(dtype, p, shape):
    layers = import_peer("timm.layers")
    x = _data(shape, dtype)
    for scale_by_keep in (True, False):
        torch.manual_seed(5)
        theirs = layers.drop_path(x, p, training=True, scale_by_keep=scale_by_keep)
        torch.manual_seed(5)
        ours = sd.drop_path(x, p, scale_by_keep=scale_by_keep)
        _kept_bits_equal(ours, theirs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("mode", ["row", "batch"])
def test_drop_path_keeps_torchvisions_stochastic_depth(dtype, p, mode):
    ops = import_peer("torchvision.ops")
    x = _data((64, 7, 3, 3), dtype)
    for seed in range(4):  # "batch" makes one decision a call: a few calls see both
        torch.manual_seed(seed)
        theirs = ops.stochastic_depth(x, p, mode, training=True)
        torch.manual_seed(seed)
        ours = sd.drop_path(x, p, mode=mode)
        _kept_bits_equal(ours, theirs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("shape", "block"), [((4, 6, 12, 12), 3), ((2, 8, 9, 9), 5), ((3, 2, 7, 7), 7)]
)
@pytest.mark.parametrize("p", [0.1, 0.4])
@pytest.mark.parametrize("inplace", [False, True])
def test_drop_block2d_drops_torchvisions_positions(dtype, shape, block, p, inplace):
    ops = import_peer("torchvision.ops")
    x = _data(shape, dtype)
    torch.manual_seed(3)
    theirs = ops.drop_block2d(x.clone(), p, block, inplace=inplace)
    torch.manual_seed(3)
    ours = sd.drop_block2d(x.clone(), p, block, inplace=inplace, normalize="batch")
    assert torch.equal(ours == 0, theirs == 0)
    # the scale: numel / count; theirs adds eps and multiplies twice, in the input's dtype
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=0)


@pytest.mark.parametrize("p", [0.1, 0.4])
def test_drop_block3d_drops_torchvisions_positions(p):
    ops = import_peer("torchvision.ops")
    x = _data((2, 3, 7, 8, 9), torch.float64)
    torch.manual_seed(4)
    theirs = ops.drop_block3d(x, p, 3)
    torch.manual_seed(4)
    ours = sd.drop_block3d(x, p, 3, normalize="batch")
    assert torch.equal(ours == 0, theirs == 0)
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=0)


def test_replace_dropout_swaps_the_peers_layers():
    ops = import_peer("torchvision.ops")
    layers = import_peer("timm.layers")
    from spatial_dropout import torch as sdt

    model = torch.nn.Sequential(
        ops.DropBlock2d(0.2, 3),
        ops.StochasticDepth(0.1, "batch"),
        torch.nn.Sequential(layers.DropPath(0.3, scale_by_keep=False), ops.DropBlock3d(0.1, 2)),
    )
    reference = torch.nn.Sequential(
        ops.DropBlock2d(0.2, 3), ops.StochasticDepth(0.1, "batch"), layers.DropPath(0.3, False)
    )
    sdt.replace_dropout(model)
    assert isinstance(model[0], sdt.DropBlock2d)
    assert (model[0].p, model[0].block_size, model[0].normalize) == (0.2, 3, "batch")
    assert isinstance(model[1], sdt.DropPath)
    assert model[1].mode == "batch"
    assert isinstance(model[2][0], sdt.DropPath)
    assert model[2][0].scale_by_keep is False
    assert isinstance(model[2][1], sdt.DropBlock3d)
    assert model[2][1].block_size == 2
    x = _data((8, 4, 9, 9), torch.float64)
    torch.manual_seed(9)
    ours = model[:2](x)
    ours = model[2][0](ours)
    torch.manual_seed(9)
    theirs = reference(x)
    assert torch.equal(ours == 0, theirs == 0)
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=0)


# --------------------------------------------------------------- the peers' bugs that docs show


def test_torchvision_drop_block2d_zeroes_a_float16_input_where_ours_does_not():
    ops = import_peer("torchvision.ops")
    x = torch.randn(8, 64, 32, 32, generator=torch.Generator().manual_seed(0)).half()
    torch.manual_seed(0)
    assert torch.equal(ops.drop_block2d(x, 0.1, 3), torch.zeros_like(x))  # count sums to inf
    torch.manual_seed(0)
    ours = sd.drop_block2d(x, 0.1, 3, normalize="batch")
    assert 0.8 < float((ours != 0).float().mean()) < 0.95


def test_timm_drop_block_drops_most_of_a_map_as_large_as_its_block():
    layers = import_peer("timm.layers")
    n = 1024  # samples; each one's fraction lies in [0, 1] (channels may share its noise)
    x = torch.ones(n, 4, 7, 7)
    # timm seeds all 49 positions at p = 0.1 and grows each into a 7x7 window (padding 3)
    cover = [4, 5, 6, 7, 6, 5, 4]
    theirs_expected = sum(1 - 0.9 ** (a * b) for a in cover for b in cover) / 49
    assert 0.92 < theirs_expected < 0.93
    torch.manual_seed(0)
    theirs = float((layers.drop_block_2d(x, 0.1, 7) == 0).float().mean())
    ours = float((sd.drop_block2d(x, 0.1, 7, generator=0) == 0).float().mean())
    bound = math.sqrt(math.log(2 / 1e-7) / (2 * n))  # Hoeffding over the samples: < 1e-6
    assert abs(theirs - theirs_expected) < bound
    assert abs(ours - 0.1) < bound


def test_the_structured_training_example_runs(capsys):
    """examples/structured_training.py: DropBlock in ResNet-18, DropPath in a ViT, trained."""
    import runpy
    from pathlib import Path

    import_peer("torchvision.models")
    path = Path(__file__).parents[1] / "examples" / "structured_training.py"
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert "ResNet-18 + DropBlock" in out
    assert "ViT + DropPath" in out
    assert "nan" not in out


def test_timm_drop_path_drops_time_steps_of_sequence_first_data_where_ours_drops_samples():
    layers = import_peer("timm.layers")
    t = torch.rand(50, 8, 16) + 0.5  # (T, B, D)
    torch.manual_seed(0)
    theirs = layers.drop_path(t, 0.5, True) == 0
    ours = sd.drop_path(t, 0.5, batch_axis=1, generator=0) == 0
    # theirs: whole time steps (axis 0), never whole samples; ours: whole samples (axis 1)
    assert torch.equal(theirs, theirs[:, :1, :1].expand_as(theirs))
    assert 0 < int(theirs[:, 0, 0].sum()) < 50
    assert torch.equal(ours, ours[:1, :, :1].expand_as(ours))
    assert 0 < int(ours[0, :, 0].sum()) < 8


def _zero_runs(rows):
    """Lengths of the runs of zeros along the last axis of a boolean (…, W) mask."""
    runs = []
    for row in rows.reshape(-1, rows.shape[-1]).tolist():
        n = 0
        for dropped in [*row, False]:
            if dropped:
                n += 1
            elif n:
                runs.append(n)
                n = 0
    return runs


def test_torchvision_clamps_a_block_to_the_smaller_side_where_ours_clamps_per_axis():
    ops = import_peer("torchvision.ops")
    x = torch.rand(256, 1, 5, 16, dtype=torch.float64) + 0.5
    torch.manual_seed(1)
    theirs = _zero_runs(ops.drop_block2d(x, 0.1, 7) == 0)
    ours = _zero_runs(sd.drop_block2d(x, 0.1, 7, normalize="batch", generator=1) == 0)
    assert min(theirs) == 5  # a 5 x 5 block: 7 clamped to the 5 rows
    assert min(ours) == 7  # a 5 x 7 block: each axis clamped on its own
