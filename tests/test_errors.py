"""SPEC.md's bad-input table on every backend: a clear error naming the function, the argument
and the value; the input untouched. Every argument is validated on every call, including eval,
``p == 0`` and ``p == 1``."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import spatial_dropout as sd
from spatial_dropout._variants import VARIANTS

from conftest import PLAIN, Backend

# the variants called as dropout is, (x, p, training, inplace): DropBlock takes ``block_size``
# third and a map of its rank (its errors: tests/test_dropblock.py)
ALL = PLAIN
DATA = np.linspace(-1, 1, 2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)


def _check(backend: Backend, kind: str, exc: type[Exception], match: str, *args, **kwargs):
    """``kind(x, *args, **kwargs)`` raises ``exc`` naming ``kind``, and ``x`` is unchanged."""
    x = backend.asarray(DATA)
    with pytest.raises(exc, match=rf"^{kind}\(\): {match}"):
        backend.call(getattr(sd, kind), x, *args, **kwargs)
    np.testing.assert_array_equal(backend.to_numpy(x), DATA)


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize(
    "p", [-0.1, 1.5, float("nan"), float("inf"), 10**400, Fraction(10**400, 3), -(10**400)]
)
def test_p_out_of_range(backend: Backend, kind, p):
    _check(backend, kind, ValueError, r"`p` must be a probability in \[0, 1\]; got", p, True)


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("p", [True, "0.5", None, [0.5]])
def test_p_wrong_type(backend: Backend, kind, p):
    _check(backend, kind, TypeError, r"`p` must be a real number in \[0, 1\]; got", p, True)


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("name", ["training", "inplace"])
@pytest.mark.parametrize("value", [1, 0, "yes", None, np.bool_(True)])
def test_flags_must_be_bool(backend: Backend, kind, name, value):
    kwargs = {"training": True, "inplace": False, name: value}
    _check(backend, kind, TypeError, rf"`{name}` must be a bool; got", 0.5, **kwargs)


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("obj", [[1.0, 2.0], None, "abc", 3.0, np.float32(1.0)])
def test_not_an_array(kind, obj):
    with pytest.raises(TypeError, match=rf"^{kind}\(\): `input` must be an array \(numpy"):
        getattr(sd, kind)(obj, 0.5, True)


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_])
def test_integer_or_bool_in_training(backend: Backend, kind, dtype):
    data = np.ones((2, 3, 4, 4), dtype=dtype)
    x = backend.asarray(data)
    with pytest.raises(TypeError, match=rf"^{kind}\(\): .*needs a floating-point `input`"):
        backend.call(getattr(sd, kind), x, 0.5, True, generator=0)
    np.testing.assert_array_equal(backend.to_numpy(x), data)
    # but eval and p == 0 return it unchanged, as PyTorch does
    assert backend.call(lambda a: getattr(sd, kind)(a, 0.5, False) is a, x)
    assert backend.call(lambda a: getattr(sd, kind)(a, 0.0, True) is a, x)


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize(("p", "training"), [(0.5, True), (0.5, False), (0.0, True), (1.0, True)])
@pytest.mark.parametrize("generator", ["seed", 1.5, True, object()])
def test_bad_generator_is_refused_even_when_no_mask_is_drawn(
    backend: Backend, kind, p, training, generator
):
    _check(
        backend,
        kind,
        TypeError,
        r"`generator` must be None, an int seed",
        p,
        training,
        generator=generator,
    )


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("seed", [-3, 2**64])
def test_bad_seed_names_the_function(backend: Backend, kind, seed):
    _check(
        backend,
        kind,
        ValueError,
        r"`generator` \(an int seed\) must be in \[0, 2\*\*64\); got",
        0.5,
        True,
        generator=seed,
    )


def test_native_generator_of_another_framework(backend: Backend):
    if backend.name.startswith("numpy"):
        pytest.skip("a numpy.random.Generator is NumPy's own")
    _check(
        backend,
        "dropout2d",
        TypeError,
        r"`generator` must be None.*got numpy.random",
        0.5,
        generator=np.random.default_rng(0),
    )


def test_read_only_inplace_is_refused_and_untouched(backend: Backend):
    if backend.writable:
        pytest.skip(f"{backend.name} can be written")
    _check(
        backend,
        "dropout2d",
        ValueError,
        r"inplace=True, but .* cannot be written; the "
        r"input is unchanged",
        0.5,
        True,
        True,
        generator=0,
    )


def test_read_only_numpy_message():
    x = DATA.copy()
    x.flags.writeable = False
    with pytest.raises(ValueError, match=r"a read-only numpy.ndarray cannot be written"):
        sd.dropout2d(x, 0.5, inplace=True)
    assert sd.dropout2d(x, 0.5, generator=0).flags.writeable  # out of place still works


@pytest.mark.parametrize("kind", [k for k in ALL if VARIANTS[k].channel])
@pytest.mark.parametrize("fmt", ["NHWC", ["channels_last"], None, 3])
def test_bad_data_format(backend: Backend, kind, fmt):
    _check(
        backend,
        kind,
        ValueError,
        r"`data_format` must be 'channels_first' or "
        r"'channels_last'; got",
        0.5,
        data_format=fmt,
    )


def test_generator_and_key_together():
    with pytest.raises(TypeError, match=r"^dropout\(\): pass `generator` or `key`, not both"):
        sd.dropout(DATA, 0.5, generator=1, key=2)


def test_unknown_option_key():
    with pytest.raises(TypeError, match=r"^dropout2d\(\): unknown option 'prob'"):
        sd.dropout2d(DATA, {"prob": 0.5})


def test_bad_kind_and_masks(backend: Backend):
    x = backend.asarray(DATA)
    with pytest.raises(ValueError, match=r"^dropout_mask\(\): `kind` must be one of dropout, "):
        sd.dropout_mask(x, 0.5, kind="dropout4d")
    with pytest.raises(ValueError, match=r"^dropout_mask\(\): `kind` must be one of"):
        sd.dropout_mask(x, 0.5, kind=["dropout2d"])  # type: ignore[arg-type]
    bad_shape = backend.asarray(np.ones((5, 1), bool))
    with pytest.raises(ValueError, match=r"^apply_mask\(\): `mask` of shape \(5, 1\) does not"):
        sd.apply_mask(x, bad_shape, 0.5)


@pytest.mark.parametrize(
    "mask",
    [None, True, np.ones((2, 3, 1, 1), np.float64), np.ones((2, 3, 1, 1), np.int64)],
    ids=["None", "bool", "float64", "int64"],
)
def test_apply_mask_needs_a_boolean_mask(mask):
    x = DATA.copy()
    with pytest.raises(TypeError, match=r"^apply_mask\(\): `mask` must be a boolean array"):
        sd.apply_mask(x, mask, 0.5, inplace=True)
    np.testing.assert_array_equal(x, DATA)


def test_manual_seed_and_generator_name_themselves():
    with pytest.raises(ValueError, match=r"^manual_seed\(\): `seed` must be in"):
        sd.manual_seed(-1)
    with pytest.raises(TypeError, match=r"^Generator\(\): `seed` must be an int"):
        sd.Generator(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^Generator\(\): `counter` must be in"):
        sd.Generator(1, counter=-1)
    with pytest.raises(ValueError, match=r"^set_num_threads\(\): `n` must be an int >= 1"):
        sd.set_num_threads(0)


def test_layer_constructor_validates():
    with pytest.raises(ValueError, match=r"^Dropout2d\(\): `p` must be a probability"):
        sd.Dropout2d(2.0)
    with pytest.raises(TypeError, match=r"^Dropout2d\(\): `inplace` must be a bool"):
        sd.Dropout2d(0.5, inplace=1)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError,
        match=r"^Dropout\(\): `data_format` applies only to "
        r"Dropout1d/Dropout2d/Dropout3d",
    ):
        sd.Dropout(0.5, data_format="channels_last")
    with pytest.raises(ValueError, match=r"^Dropout2d\(\): `generator` \(an int seed\) must be in"):
        sd.Dropout2d(0.5, generator=-1)


def test_inplace_on_an_overlapping_view_is_refused():
    """torch refuses such writes; the result would depend on the order of the writes."""
    base = np.arange(12, dtype=np.float64)
    view = np.lib.stride_tricks.as_strided(base, shape=(3, 6), strides=(16, 8))
    with pytest.raises(
        ValueError,
        match=r"^dropout\(\): inplace=True, but a numpy.ndarray view "
        r"whose elements overlap in memory cannot be written",
    ):
        sd.dropout(view, 0.5, True, True, generator=0)
    np.testing.assert_array_equal(base, np.arange(12.0))
    assert sd.dropout(view, 0.5, generator=0).shape == (3, 6)  # out of place is fine


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "int4"])
def test_other_float_formats_are_refused_by_name(name):
    """float8 and friends raised ml_dtypes' own error, or were scaled as float16."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    if not hasattr(ml_dtypes, name):
        pytest.skip(f"ml_dtypes has no {name}")
    x = np.ones((2, 3, 4, 4), dtype=getattr(ml_dtypes, name))
    want = "needs a floating-point" if name == "int4" else "takes float16, bfloat16, float32"
    with pytest.raises(TypeError, match=rf"^dropout2d\(\): dropout in training .*{want}"):
        sd.dropout2d(x, 0.5, True, True, generator=0)
    assert (x.astype(np.float32) == 1).all()


def test_torch_float8_is_refused():
    torch = pytest.importorskip("torch")
    x = torch.ones(2, 3, 4, 4, dtype=torch.float8_e4m3fn)
    with pytest.raises(TypeError, match=r"^dropout2d\(\): .*takes float16, bfloat16"):
        sd.dropout2d(x, 0.5, generator=0)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_numpy_matrix_is_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"got numpy.matrix\n    numpy.matrix is not supported"):
        sd.dropout(np.matrix(np.ones((4, 4))), 0.5, generator=0)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta:UserWarning")
@pytest.mark.parametrize("layout", ["sparse_coo", "sparse_csr", "mkldnn", "nested"])
@pytest.mark.parametrize("name", ["dropout", "dropout2d", "alpha_dropout", "drop_path", "apply"])
def test_torch_tensors_that_are_not_dense_get_our_error(layout, name):
    """Not aten's NotImplementedError from bernoulli_ or "nbytes is not defined"."""
    torch = pytest.importorskip("torch")
    dense = torch.randn(2, 3, 4, 4)
    x = {
        "sparse_coo": lambda: dense.to_sparse(),
        "sparse_csr": lambda: dense[0, 0].to_sparse_csr(),
        "mkldnn": lambda: dense.to_mkldnn(),
        "nested": lambda: torch.nested.nested_tensor(
            [torch.randn(3, 4), torch.randn(3, 5)], layout=torch.jagged
        ),
    }[layout]()
    calls = {
        "dropout": lambda: sd.dropout(x, 0.5),
        "dropout2d": lambda: sd.dropout2d(x, 0.5, training=False),  # also in eval
        "alpha_dropout": lambda: sd.alpha_dropout(x, 0.5, generator=0),
        "drop_path": lambda: sd.drop_path(x, 0.5),
        "apply": lambda: sd.apply_mask(x, torch.ones(2, 3, dtype=torch.bool), 0.5),
    }
    fn = "apply_mask" if name == "apply" else name
    with pytest.raises(TypeError, match=rf"^{fn}\(\): `input` must be a dense \(torch.strided\)"):
        calls[name]()
