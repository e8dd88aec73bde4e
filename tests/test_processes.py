"""Forks, worker processes, threads and damaged caches: no hang, no crash, no replayed mask.

Each scenario runs in a fresh interpreter (forking a process that has loaded JAX or torch
threads is unsafe) under a timeout, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import threading

import numpy as np
import pytest

import spatial_dropout as sd

from conftest import require

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _run(code: str, timeout: float = 240, **env: str) -> str:
    """Run ``code`` as a script file (spawned children import it) in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as folder:
        script = os.path.join(folder, "scenario.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(code))
        done = subprocess.run(
            [sys.executable, script],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **env},
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


@needs_fork
def test_fork_while_other_threads_use_a_shared_generator():
    """The child never inherits a held lock (it hung), and draws masks of its own."""
    out = _run("""
        import os, threading, numpy as np, spatial_dropout as sd
        g = sd.Generator(11)
        x = np.ones((1, 64, 1, 1), np.float32)
        stop = threading.Event()
        def spin():
            while not stop.is_set():
                sd.dropout2d(x, generator=g)
        threads = [threading.Thread(target=spin) for _ in range(4)]
        for t in threads: t.start()
        masks = set()
        for _ in range(20):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.write(w, sd.dropout2d(x, generator=g).tobytes()); os._exit(0)
            os.close(w)
            with os.fdopen(r, "rb") as f: masks.add(f.read())
            os.waitpid(pid, 0)
            masks.add(sd.dropout2d(x, generator=g).tobytes())  # the parent's next mask
        stop.set()
        for t in threads: t.join()
        print(len(masks))
    """)
    assert out == "40"  # 20 children and 20 parent draws: 40 distinct masks (2**-64 odds each)


@needs_fork
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_children_never_replay_the_global_stream(method):
    out = _run(f"""
        import multiprocessing as mp, numpy as np, spatial_dropout as sd
        x = np.ones((1, 128, 1, 1), np.float32)
        def child(q):
            q.put(sd.dropout2d(x, 0.5).tobytes())
        if __name__ == "__main__":
            sd.manual_seed(5)
            parent = sd.dropout2d(x, 0.5).tobytes()
            ctx = mp.get_context("{method}")
            q = ctx.Queue()
            procs = [ctx.Process(target=child, args=(q,)) for _ in range(3)]
            for p in procs: p.start()
            masks = [q.get(timeout=120) for _ in procs]
            for p in procs: p.join(timeout=120)
            print(len(set(masks + [parent])))
    """)
    assert out == "4"


@needs_fork
def test_dataloader_workers_of_a_seeded_layer_draw_distinct_masks():
    """A layer built with generator=<int> used in DataLoader workers: 4 distinct masks over 8
    items on 2 workers was the defect; every item now draws its own."""
    require("torch")
    out = _run("""
        import torch, spatial_dropout as sd
        from spatial_dropout.torch import Dropout2d
        layer = Dropout2d(0.5, generator=7)
        class Items(torch.utils.data.Dataset):
            def __len__(self): return 8
            def __getitem__(self, i): return layer(torch.ones(64, 2, 2))
        loader = torch.utils.data.DataLoader(Items(), batch_size=None, num_workers=2,
                                             multiprocessing_context="fork")
        masks = {bytes(t.numpy().tobytes()) for t in loader}
        print(len(masks))
    """)
    assert out == "8"


@needs_fork
def test_forked_child_after_torch_openmp_runs_the_compiled_kernels():
    """A child forked after torch's OpenMP pool ran was killed by GNU OpenMP on its first
    parallel compiled call; a forked child now runs the serial builds."""
    require("torch")
    require("numba")
    out = _run(
        """
        import os, numpy as np, torch, spatial_dropout as sd
        torch.set_num_threads(2)
        torch.ones(1 << 22).mul_(2).sum()  # starts torch's OpenMP threads
        x = np.ones((16, 64, 32, 32), np.float32)  # 4 MB: above the parallel threshold
        want = sd.dropout2d(x, 0.5, generator=1)
        pid = os.fork()
        if pid == 0:
            ok = (sd.dropout2d(x, 0.5, generator=1) == want).all()
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """,
        SPATIAL_DROPOUT_NUMBA="1",
    )
    assert out == "0"


def test_a_damaged_numba_cache_is_repaired(tmp_path):
    """An emptied cache index made every call raise EOFError, in every later process."""
    require("numba")
    code = """
        import numpy as np, spatial_dropout as sd
        x = np.ones((8, 64, 16, 16), np.float32)
        a, b = sd.dropout2d(x, 0.5, generator=1), sd.dropout(x, 0.5, generator=2)
        print(float(a.sum()), float(b.sum()))
    """
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "SPATIAL_DROPOUT_NUMBA": "1"}
    first = _run(code, **env)
    indexes = list(tmp_path.rglob("*.nbi"))
    assert indexes
    for index in indexes:
        index.write_bytes(b"")
    assert _run(code, **env) == first
    assert _run(code, **env) == first  # and the next process finds a working cache


@pytest.mark.parametrize("value", ["false", "no", "off", "0", " False "])
def test_numba_switch_accepts_the_usual_spellings(value):
    out = _run(
        "from spatial_dropout._backends._numpy import _compiled; print(_compiled.kernels())",
        SPATIAL_DROPOUT_NUMBA=value,
    )
    assert out == "None"


def test_a_bad_thread_count_variable_is_named():
    code = """
        import numpy as np, spatial_dropout as sd
        try:
            sd.get_num_threads()
        except ValueError as e:
            print(e)
    """
    out = _run(code, SPATIAL_DROPOUT_NUM_THREADS="abc")
    assert out == "$SPATIAL_DROPOUT_NUM_THREADS must be an integer >= 1; got 'abc'"


@pytest.mark.parametrize("stream", ["global", "shared Generator"])
def test_sixteen_threads_never_share_a_mask(stream):
    """16 threads x 1,000 calls: no exception, 16,000 distinct masks (256 channels: 2**-256
    odds for any two to collide), and with a shared Generator exactly counters 0..15,999."""
    x = np.ones((1, 256, 1, 1), dtype=np.float32)
    g = sd.Generator(3) if stream != "global" else None
    if g is None:
        sd.manual_seed(3)
    masks: list[list[bytes]] = [[] for _ in range(16)]

    def work(i: int) -> None:
        masks[i] = [sd.dropout_mask(x, 0.5, generator=g).tobytes() for _ in range(1000)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drawn = [m for ms in masks for m in ms]
    assert len(set(drawn)) == 16_000
    serial = {
        sd.dropout_mask(x, 0.5, generator=sd.Generator(3, counter=c)).tobytes()
        for c in range(16_000)
    }
    assert set(drawn) == serial  # the seeded run is the serial run, in some order


def test_sixteen_threads_on_the_parallel_kernels():
    """16 threads x 100 calls on 1 MB inputs (the compiled kernels' parallel builds, under
    their launch lock): each result equals the serial call with the same seed."""
    x = np.random.default_rng(0).standard_normal((1, 256, 32, 32)).astype(np.float32)
    want = {s: sd.dropout2d(x, 0.5, generator=s) for s in range(16)}
    bad: list[int] = []

    def work(s: int) -> None:
        for _ in range(100):
            if not np.array_equal(sd.dropout2d(x, 0.5, generator=s), want[s]):
                bad.append(s)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


def test_no_writable_numba_cache_never_fails_a_call(tmp_path):
    """No writable cache directory (a read-only install): numba compiles in the process. The
    cache path lies below a regular file, which even root cannot make a directory of."""
    require("numba")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = _run(
        """
        import warnings, numpy as np, spatial_dropout as sd
        warnings.simplefilter("ignore")  # numba may warn that it cannot cache
        x = np.ones((8, 64, 16, 16), np.float32)
        y = sd.dropout2d(x, 0.5, generator=1)
        print(int(((y == 0) | (y == 2)).all()), int((y == 0).any()))
    """,
        NUMBA_CACHE_DIR=str(blocker / "cache"),
        SPATIAL_DROPOUT_NUMBA="1",
    )
    assert out == "1 1"
