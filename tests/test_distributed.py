"""torch.distributed with real processes: ``gloo`` ranks on loopback, started and stopped here.

Data-parallel layers: a small CNN with our ``Dropout2d`` under ``DistributedDataParallel``,
the same seed on every rank: each rank's masks equal the single-process masks of its slice of
the global batch, the ranks' masks differ, and the synchronised gradients equal the
single-process gradient of the global batch to float tolerance. With
``data_parallel=False`` every rank draws the same masks. DTensor: four ranks, 1-D and 2 x 2
meshes, the single-process result and no collectives.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

from conftest import require

torch = require("torch")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import torch, torch.distributed as dist, torch.multiprocessing as mp
    from torch.nn.parallel import DistributedDataParallel as DDP
    from spatial_dropout.torch import Dropout2d

    WORLD, B, SEED = 2, 3, 1234

    def model(data_parallel):
        torch.manual_seed(0)  # the same weights everywhere
        return torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Sigmoid(),  # never 0: masks readable
            Dropout2d(0.5, generator=SEED, data_parallel=data_parallel),
            torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 4),
        ).double()

    def data():
        g = torch.Generator().manual_seed(7)
        return torch.rand(WORLD * B, 3, 6, 6, generator=g).double(), torch.arange(WORLD * B) % 4

    def masks_of(net, x):
        seen = []
        net[2].register_forward_hook(lambda m, i, o: seen.append((o != 0).any(-1).any(-1)))
        return seen

    def single(data_parallel):
        x, t = data()
        net = model(data_parallel)
        seen = masks_of(net, x)
        torch.nn.functional.cross_entropy(net(x), t).backward()
        return seen[0], [p.grad for p in net.parameters()]

    def rank_main(rank, port, out_dir):
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=WORLD)
        x, t = data()
        xs, ts = x[rank * B:(rank + 1) * B], t[rank * B:(rank + 1) * B]
        result = {}
        for data_parallel in (True, False):
            net = DDP(model(data_parallel))
            seen = masks_of(net.module, xs)
            torch.nn.functional.cross_entropy(net(xs), ts).backward()
            result[data_parallel] = (seen[0], [p.grad for p in net.parameters()])
        torch.save(result, f"{out_dir}/rank{rank}.pt")
        dist.destroy_process_group()

    if __name__ == "__main__":
        port, out_dir = int(sys.argv[1]), sys.argv[2]
        mp.spawn(rank_main, args=(port, out_dir), nprocs=WORLD, join=True)
        ranks = [torch.load(f"{out_dir}/rank{r}.pt") for r in range(WORLD)]
        mask, grads = single(True)  # one process: data_parallel has no group to read
        for r, res in enumerate(ranks):
            local_mask, local_grads = res[True]
            assert torch.equal(local_mask, mask[r * B:(r + 1) * B]), f"rank {r}'s masks"
            for a, b in zip(local_grads, grads):
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
            print(f"rank {r}: masks == single-process rows {r * B}..{(r + 1) * B - 1}, "
                  f"{int(local_mask.sum())}/{local_mask.numel()} channels kept; "
                  "gradients == single-process gradient of the global batch")
        assert not torch.equal(ranks[0][True][0], ranks[1][True][0]), "ranks drew the same masks"
        assert torch.equal(ranks[0][False][0], ranks[1][False][0]), "data_parallel=False differs"
        g0, g1 = ranks[0][True][1], ranks[1][True][1]
        assert all(torch.equal(a, b) for a, b in zip(g0, g1)), "gradients out of sync"
        print("ranks differ with data_parallel=True; equal with data_parallel=False; OK")
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ddp_ranks_draw_their_slice_of_the_global_mask(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(_free_port()), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.strip().endswith("OK"), done.stdout
    print(done.stdout)


DTENSOR_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import torch, torch.distributed as dist, torch.multiprocessing as mp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Partial, Replicate, Shard, distribute_tensor
    from torch.distributed.tensor.debug import CommDebugMode
    import spatial_dropout as sd

    WORLD = 4
    PLACEMENTS = {
        (4,): [[Shard(0)], [Shard(1)], [Shard(2)], [Replicate()]],
        (2, 2): [[Shard(0), Shard(1)], [Replicate(), Shard(0)], [Shard(1), Replicate()],
                 [Shard(2), Shard(3)]],
    }

    def rank_main(rank, port):
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=WORLD)
        full = torch.randn(7, 10, 4, 6, generator=torch.Generator().manual_seed(3))  # uneven
        lines = []
        for mesh_shape, placements_list in PLACEMENTS.items():
            mesh = init_device_mesh("cpu", mesh_shape)
            for placements in placements_list:
                for fn in (sd.dropout, sd.dropout2d, sd.feature_alpha_dropout):
                    want = fn(full, 0.4, True, generator=sd.Generator(5))
                    x = distribute_tensor(full, mesh, placements)
                    with CommDebugMode() as comm:
                        y = fn(x, 0.4, True, generator=sd.Generator(5))
                    assert comm.get_total_counts() == 0, (placements, comm.get_comm_counts())
                    assert tuple(y.placements) == tuple(x.placements), (y.placements, placements)
                    got = y.full_tensor()
                    assert torch.equal(got, want), (fn.__name__, mesh_shape, placements)
                lines.append(f"mesh {mesh_shape} {placements}: full_tensor() == single-process, "
                             "placements kept, 0 collectives")
        mesh = init_device_mesh("cpu", (4,))
        x = distribute_tensor(full, mesh, [Shard(0)])
        for bad, why in ((dict(), "portable generator"),):
            try:
                sd.dropout2d(x, 0.4, **bad)
            except ValueError as e:
                assert why in str(e), e
            else:
                raise AssertionError("generator=None on a DTensor was accepted")
        # the comparison in docs/distributed.md, with torch's own dropout as the oracle
        masks = []
        for placements in ([Shard(0)], [Replicate()]):
            torch.manual_seed(0)
            y = torch.nn.functional.dropout2d(distribute_tensor(full, mesh, placements), 0.4)
            masks.append(y.full_tensor() != 0)
        torch.manual_seed(0)
        single = torch.nn.functional.dropout2d(full, 0.4) != 0
        assert torch.equal(masks[0], masks[1]), "torch's DTensor masks changed with placement"
        assert torch.equal(masks[0], single), "torch's DTensor mask is not its single-process one"
        lines.append("torch's own F.dropout2d on DTensors (one torch seed): Shard(0) and "
                     "Replicate give the single-process mask too")
        leaf = distribute_tensor(full, mesh, [Shard(1)]).requires_grad_()
        y = sd.dropout2d(leaf, 0.4, generator=sd.Generator(5))
        y.sum().backward()
        want = sd.dropout2d(full, 0.4, generator=sd.Generator(5))
        assert torch.equal(leaf.grad.full_tensor(), torch.where(want != 0, 1 / 0.6, 0.0).float())
        lines.append("autograd through a sharded DTensor: the gradient is the mask times s")
        from torch.distributed.tensor import DTensor
        p = DTensor.from_local(full / WORLD, mesh, [Partial()], run_check=False)
        try:
            sd.dropout2d(p, 0.4, generator=1)
        except ValueError as e:
            assert "Partial" in str(e), e
        else:
            raise AssertionError("a Partial DTensor was accepted")
        if rank == 0:
            print("\\n".join(lines))
            print("generator=None and Partial refused; OK")
        dist.destroy_process_group()

    if __name__ == "__main__":
        mp.spawn(rank_main, args=(int(sys.argv[1]),), nprocs=WORLD, join=True)
    """
)


def test_dtensor_shards_compute_the_global_result_without_communication(tmp_path):
    pytest.importorskip("torch.distributed.tensor")
    script = tmp_path / "dtensor_run.py"
    script.write_text(DTENSOR_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(_free_port())],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.strip().endswith("OK"), done.stdout
    print(done.stdout)
