"""The portable generator: known answers, reproducibility, threads, fork, and statistics."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import spatial_dropout as sd
from spatial_dropout._random import philox4x32, random_words

from conftest import Backend, expected, reference_mask

# Random123 1.14, examples/kat_vectors, "philox4x32 10" lines: counter, key -> output.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


def _namespace_and_dtype(name: str):
    if name == "numpy":
        import array_api_compat.numpy as xp

        return xp, xp.uint32
    if name == "torch":
        from conftest import require

        require("torch")
        import array_api_compat.torch as xp

        return xp, xp.int64
    if name == "jax":
        from conftest import require

        jnp = require("jax.numpy")
        return jnp, jnp.uint32
    from conftest import require

    xp = require("array_api_strict")
    return xp, xp.uint32


NAMESPACES = ["numpy", "torch", "jax", "array_api_strict"]


@pytest.mark.parametrize("ns", NAMESPACES)
@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_philox_known_answers(ns, counter, key, expected):
    xp, dtype = _namespace_and_dtype(ns)
    words = tuple(xp.asarray([c], dtype=dtype) for c in counter)
    got = tuple(int(np.asarray(w)[0]) for w in philox4x32(xp, words, key))
    assert got == expected


@pytest.mark.parametrize("ns", NAMESPACES)
def test_random_words_identical_across_namespaces(ns):
    xp, dtype = _namespace_and_dtype(ns)
    seed, stream = 0x0123456789ABCDEF, 2**40 + 3
    ref = random_words(np, 1001, seed, stream)
    got = np.asarray(random_words(xp, 1001, seed, stream, dtype=dtype)).astype(np.uint32)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("n", [1, 4, 5, 47, 48, 49, 1001, 4 * (1 << 14) + 3])
@pytest.mark.parametrize(("seed", "counter"), [(0, 0), (2**64 - 1, 2**64 - 1), (12345, 2**40 + 3)])
def test_numpy_philox_equals_the_array_api_code(n, seed, counter):
    """The NumPy fast path (Python ints for tiny masks, uint64 rows in chunks otherwise)."""
    from spatial_dropout._random import _philox_numpy

    np.testing.assert_array_equal(
        _philox_numpy.words(n, seed, counter), random_words(np, n, seed, counter)
    )


@pytest.mark.parametrize(("start", "n"), [(0, 7), (1, 9), (3, 1), (4, 8), (13, 50)])
def test_random_words_depend_only_on_the_logical_index(start, n):
    """Any chunk of the index range reproduces the same words: chunking cannot change a mask."""
    whole = random_words(np, 100, 5, 6)
    np.testing.assert_array_equal(random_words(np, n, 5, 6, start=start), whole[start : start + n])


def test_same_seed_gives_the_reference_mask_on_every_backend(backend: Backend):
    data = np.ones((4, 32, 2, 2), dtype=np.float32)
    out = backend.call(sd.dropout2d, backend.asarray(data), 0.3, generator=123)
    np.testing.assert_array_equal(backend.to_numpy(out), expected("dropout2d", data, 0.3, 123))


@pytest.mark.parametrize("counter", [1, 2**32 + 5])
def test_generator_counter_selects_the_stream_on_every_backend(backend: Backend, counter):
    data = np.ones((3, 40, 2), dtype=np.float32)
    g = sd.Generator(77, counter=counter)
    if backend.name == "jax:jit":
        with pytest.raises(ValueError, match=r"Generator cannot advance inside a traced JAX"):
            backend.call(sd.dropout1d, backend.asarray(data), 0.5, generator=g)
        assert g.counter == counter
        return
    out = backend.call(sd.dropout1d, backend.asarray(data), 0.5, generator=g)
    assert g.counter == counter + 1
    np.testing.assert_array_equal(
        backend.to_numpy(out), expected("dropout1d", data, 0.5, 77, counter)
    )


def test_global_stream_is_a_generator(backend: Backend):
    """After manual_seed(s), generator=None draws the masks of Generator(s), call by call."""
    data = np.ones((2, 64, 3, 3), dtype=np.float32)
    x = backend.asarray(data)
    sd.manual_seed(31)
    if not backend.global_stream:  # torch: torch's own stream; JAX: a key is required
        if backend.name.startswith("jax"):
            with pytest.raises(ValueError, match=r"needs an explicit `key`"):
                backend.call(sd.dropout2d, x, 0.5)
        return
    first = backend.to_numpy(backend.call(sd.dropout2d, x, 0.5))
    second = backend.to_numpy(backend.call(sd.dropout, x, 0.5))
    np.testing.assert_array_equal(first, expected("dropout2d", data, 0.5, 31, 0))
    np.testing.assert_array_equal(second, expected("dropout", data, 0.5, 31, 1))
    sd.manual_seed(31)
    mask = backend.to_numpy(backend.call(sd.dropout_mask, x, 0.5))
    np.testing.assert_array_equal(mask, reference_mask("dropout2d", data.shape, 0.5, 31, 0))


def test_int_seed_is_a_fresh_generator():
    x = np.ones((4, 64, 1, 1))
    np.testing.assert_array_equal(sd.dropout2d(x, generator=5), sd.dropout2d(x, generator=5))
    np.testing.assert_array_equal(
        sd.dropout2d(x, generator=5), sd.dropout2d(x, generator=sd.Generator(5))
    )
    assert not np.array_equal(sd.dropout2d(x, generator=5), sd.dropout2d(x, generator=6))


def test_generator_advances_per_call_and_replays_after_reseed():
    x = np.ones((8, 64, 1, 1))
    g = sd.Generator(42)
    a, b = sd.dropout2d(x, generator=g), sd.dropout2d(x, generator=g)
    assert g.counter == 2
    assert not np.array_equal(a, b)
    g.manual_seed(42)
    np.testing.assert_array_equal(sd.dropout2d(x, generator=g), a)
    np.testing.assert_array_equal(sd.dropout2d(x, generator=sd.Generator(42, counter=1)), b)


@pytest.mark.parametrize("kind", ["dropout", "dropout2d", "alpha_dropout"])
def test_one_call_one_draw_whatever_p_rounds_to(backend: Backend, kind):
    """The counter rule: a call in training with ``0 < p <= 1`` advances a Generator by exactly
    one draw (``p`` of 1, or rounding to 1 in 32 bits, and an empty input included); eval and
    ``p == 0`` advance nothing. So a call's mask never depends on the ``p`` of the calls before."""
    f = getattr(sd, kind)
    x = backend.asarray(np.ones((2, 3, 4), dtype=np.float32))
    empty = backend.asarray(np.ones((0, 3), np.float32))
    g = sd.Generator(1)
    if backend.name == "jax:jit":  # refused under a trace, and nothing taken
        with pytest.raises(ValueError, match="cannot advance inside a traced"):
            backend.call(f, x, 0.5, True, generator=g)
        assert g.counter == 0
        return
    cases = [
        (0.5, False, 0),
        (0.0, True, 0),
        (1.0, True, 1),
        (1 - 2**-34, True, 1),
        (1 - 2**-40, True, 1),
        (0.5, True, 1),
    ]
    for p, training, draws in cases:
        before = g.counter
        backend.to_numpy(backend.call(f, x, p, training, generator=g))
        assert g.counter == before + draws, (p, training)
        backend.call(sd.dropout_mask, x, p, kind=kind, generator=g)  # draws if p > 0
        assert g.counter == before + draws + (p > 0), ("dropout_mask", p, training)
    backend.call(f, empty, 0.5, True, generator=g)
    assert g.counter == 10
    # the next mask is the one counter 10 draws, whatever the p of the calls before it
    want = backend.to_numpy(backend.call(f, x, 0.3, True, generator=sd.Generator(1, counter=10)))
    np.testing.assert_array_equal(
        backend.to_numpy(backend.call(f, x, 0.3, True, generator=g)), want
    )


def test_manual_seed_makes_the_global_stream_reproducible():
    x = np.ones((8, 64, 2, 2))
    sd.manual_seed(2024)
    a = [sd.dropout2d(x), sd.dropout(x)]
    sd.manual_seed(2024)
    b = [sd.dropout2d(x), sd.dropout(x)]
    for u, w in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, w)
    assert not np.array_equal(a[0], sd.dropout2d(x))


def test_numpy_random_generator_is_accepted():
    x = np.ones((4, 16, 2, 2))
    a = sd.dropout2d(x, generator=np.random.default_rng(3))
    b = sd.dropout2d(x, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_threads_never_share_a_mask():
    x = np.ones((1, 256, 1, 1), dtype=np.float32)  # 2**-256 odds that two masks collide
    sd.manual_seed(7)
    masks: list[bytes] = []
    lock = threading.Lock()

    def work() -> None:
        local = [sd.dropout2d(x).tobytes() for _ in range(50)]
        with lock:
            masks.extend(local)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(masks) == 400
    assert len(set(masks)) == 400
    assert sd.manual_seed(0) is not None  # the generator survived concurrent use


_FORK_SCRIPT = """
import os, sys
import numpy as np
import spatial_dropout as sd

x = np.ones((1, 256, 1, 1), dtype=np.float32)

def child_mask():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child draws its next mask and sends it to the parent
        os.close(r)
        os.write(w, sd.dropout2d(x).tobytes())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return data.hex()

sd.manual_seed(99)
first = [child_mask(), child_mask(), sd.dropout2d(x).tobytes().hex()]
sd.manual_seed(99)
again = [child_mask(), child_mask(), sd.dropout2d(x).tobytes().hex()]
print(len(set(first)), first == again)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_replay_the_parent_stream():
    # A fresh interpreter: forking a process that has loaded JAX or torch threads is unsafe.
    out = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT], capture_output=True, text=True, check=True
    ).stdout.split()
    # two children and the parent: three distinct masks, and the same three after reseeding
    assert out == ["3", "True"]


def _hoeffding(n: int, failure: float = 1e-7) -> float:
    """Half-width t with P(|mean - p| >= t) <= failure for n independent Bernoulli draws."""
    return math.sqrt(math.log(2 / failure) / (2 * n))


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5, 0.9])
def test_drop_fraction_and_mean_within_binomial_bounds(p):
    sd.manual_seed(int(p * 1000))  # any seed: the bound fails with odds below 1e-7
    x = np.ones((256, 512, 2, 2), dtype=np.float64)
    y = sd.dropout2d(x, p)
    planes = y.reshape(256 * 512, 4)
    n = planes.shape[0]
    frac = (planes[:, 0] == 0).mean()
    assert abs(frac - p) < _hoeffding(n)
    # the mean of the output is (1 - frac) / (1 - p): within the same bound, scaled
    assert abs(y.mean() - 1.0) < _hoeffding(n) / (1 - p)


def test_masks_independent_across_samples():
    """Per-sample masks agree on a channel with probability p**2 + (1-p)**2, no more."""
    p, n_samples, channels = 0.5, 64, 4096
    y = sd.dropout2d(np.ones((n_samples, channels, 1, 1)), p, generator=sd.Generator(17))
    kept = y[:, :, 0, 0] != 0
    agree = (kept[1:] == kept[:-1]).mean()
    n = (n_samples - 1) * channels
    assert abs(agree - (p**2 + (1 - p) ** 2)) < _hoeffding(n)
    # and each channel's keep rate over samples is not stuck (no channel always dropped)
    assert abs(kept.mean() - (1 - p)) < _hoeffding(kept.size)


def test_words_uniform_over_the_low_and_high_bits():
    words = random_words(np, 1 << 20, 3, 0)
    for bit in (0, 7, 15, 16, 31):
        frac = ((words >> bit) & 1).mean()
        assert abs(frac - 0.5) < _hoeffding(words.size)


def test_generator_rejects_bad_seeds():
    with pytest.raises(ValueError, match="seed"):
        sd.Generator(-1)
    with pytest.raises(ValueError, match="seed"):
        sd.Generator(2**64)
    with pytest.raises(TypeError, match="seed"):
        sd.Generator(1.5)  # type: ignore[arg-type]
    assert "seed=3" in repr(sd.Generator(3))
