"""The torch bench rows of #23: ours against ``F.dropout2d`` side by side in one run.

``python benchmarks/torch_rows.py [--reps N] [--threads 1,2]``: medians of alternating blocks
(``_bench._median_times``), p = 0.2.

- compiled forward+backward (``torch.compile(fullgraph=True)`` of ``dropout2d(relu(x)) * 2``,
  then ``.sum().backward()``) on (16, 64, 32, 32), (32, 64, 56, 56), (4, 512, 7, 7), with
  ``generator=None`` and a ``Generator``: target <= 1.05x compiled ``F.dropout2d``;
- a training step of torchvision's ResNet-18 with ``dropout2d`` after each stage, batch
  (16, 3, 64, 64), forward+backward+SGD, eager and compiled: target <= 1.02x;
- eager forward and forward+backward microbench rows (old targets: +8 us under 1 MB, 1.15x
  above).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import spatial_dropout as sd
from spatial_dropout._bench import _median_times

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from peers import import_peer  # torchvision beside the CPU build of torch: see there

SHAPES = [(16, 64, 32, 32), (32, 64, 56, 56), (4, 512, 7, 7)]
P = 0.2


def _ratio_row(name: str, times: dict[str, float], target: str) -> str:
    ratio = times["ours"] / times["F.dropout2d"]
    rest = ", ".join(f"{k} {v:.3f} ms" for k, v in times.items())
    return f"{name}: {rest}; ours/F = {ratio:.3f}x (target {target})"


def _compiled_case(shape: tuple[int, ...], kind: str, reps: int) -> str:
    g = sd.Generator(0) if kind == "Generator" else None

    def ours(t: torch.Tensor) -> torch.Tensor:
        return sd.dropout2d(torch.relu(t), P, generator=g) * 2

    def theirs(t: torch.Tensor) -> torch.Tensor:
        return F.dropout2d(torch.relu(t), P) * 2

    x = torch.randn(shape, requires_grad=True)
    fs = {name: torch.compile(f, fullgraph=True) for name, f in (("ours", ours), ("F", theirs))}
    cands: dict[str, Callable[[], object]] = {
        "F.dropout2d": lambda: fs["F"](x).sum().backward(),
        "ours": lambda: fs["ours"](x).sum().backward(),
    }
    times = _median_times(cands, reps)
    return _ratio_row(f"compiled fwd+bwd {shape} generator={kind}", times, "<= 1.05x")


def _resnet(drop: Callable[[torch.Tensor], torch.Tensor]) -> torch.nn.Module:
    models = import_peer("torchvision.models")

    class Drop(torch.nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return drop(t)

    torch.manual_seed(0)
    net = models.resnet18(num_classes=10)
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        setattr(net, stage, torch.nn.Sequential(getattr(net, stage), Drop()))
    return net


def _resnet_case(compiled: bool, reps: int) -> str:
    x = torch.randn(16, 3, 64, 64)
    y = torch.randint(0, 10, (16,))

    def step_of(drop: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], object]:
        net = _resnet(drop)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        run: Any = torch.compile(net) if compiled else net

        def step() -> None:
            opt.zero_grad()
            F.cross_entropy(run(x), y).backward()
            opt.step()

        return step

    cands = {
        "F.dropout2d": step_of(lambda t: F.dropout2d(t, P)),
        "ours": step_of(lambda t: sd.dropout2d(t, P)),
    }
    times = _median_times(cands, reps, number=1)
    name = f"ResNet-18 step (16, 3, 64, 64) {'compiled' if compiled else 'eager'}"
    return _ratio_row(name, times, "<= 1.02x")


def _eager_case(shape: tuple[int, ...], backward: bool, reps: int) -> str:
    x = torch.randn(shape, requires_grad=backward)
    if backward:
        cands: dict[str, Callable[[], object]] = {
            "F.dropout2d": lambda: F.dropout2d(x, P).sum().backward(),
            "ours": lambda: sd.dropout2d(x, P).sum().backward(),
        }
    else:
        cands = {"F.dropout2d": lambda: F.dropout2d(x, P), "ours": lambda: sd.dropout2d(x, P)}
    times = _median_times(cands, reps)
    size = x.numel() * x.element_size()
    target = "+8 us" if size < 1 << 20 else "<= 1.15x"
    diff = (times["ours"] - times["F.dropout2d"]) * 1e3
    what = "fwd+bwd" if backward else "fwd"
    return _ratio_row(f"eager {what} {shape}", times, target) + f", ours-F = {diff:+.1f} us"


def rows(reps: int) -> list[str]:
    """Every row, at the current thread count."""
    out = [_compiled_case(s, k, reps) for s in SHAPES for k in ("None", "Generator")]
    out += [_resnet_case(compiled, max(3, reps // 2)) for compiled in (False, True)]
    out += [_eager_case(s, b, reps) for s in [(1, 8, 4, 4), *SHAPES] for b in (False, True)]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # torch's TorchScript deprecations while compiling
    for threads in (int(t) for t in args.threads.split(",")):
        sd.set_num_threads(threads)
        torch.set_num_threads(threads)
        print(f"== {threads} thread(s)", flush=True)
        for line in rows(args.reps):
            print(line, flush=True)


if __name__ == "__main__":
    main()
