"""DropBlock in a torchvision ResNet-18 and DropPath in a small ViT, a few training steps each.

Run: python examples/structured_training.py  (needs torch and torchvision; random data)
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18

import spatial_dropout as sd
from spatial_dropout.torch import DropBlock2d, DropPath


def resnet_with_dropblock(classes: int = 10) -> nn.Module:
    """ResNet-18 with DropBlock after its last two stages, as the paper places it."""
    model = resnet18(num_classes=classes)
    model.layer3 = nn.Sequential(model.layer3, DropBlock2d(0.1, 5))  # 1/16 of the input's side
    model.layer4 = nn.Sequential(model.layer4, DropBlock2d(0.1, 3))  # 1/32
    return model


class Block(nn.Module):
    """A pre-norm transformer block whose two residual branches are dropped per sample."""

    def __init__(self, dim: int, heads: int, drop_path: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.drop_path = DropPath(drop_path)  # (N, T, D): each sample's branch kept or dropped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.drop_path(self.attn(h, h, h, need_weights=False)[0])
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TinyViT(nn.Module):
    """Patches of 8x8, a stack of blocks with stochastic depth rising linearly to 0.1."""

    def __init__(self, classes: int = 10, dim: int = 64, depth: int = 4) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, dim, 8, stride=8)
        rates = [0.1 * i / (depth - 1) for i in range(depth)]
        self.blocks = nn.Sequential(*(Block(dim, 4, r) for r in rates))
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patches(x).flatten(2).transpose(1, 2)  # (N, T, D)
        return self.head(self.blocks(tokens).mean(dim=1))


def train(model: nn.Module, steps: int = 3, batch: int = 8) -> list[float]:
    """A few SGD steps on random images and labels; the losses."""
    data = torch.Generator().manual_seed(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    losses = []
    for _ in range(steps):
        x = torch.randn(batch, 3, 64, 64, generator=data)
        y = torch.randint(0, 10, (batch,), generator=data)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def main() -> None:
    torch.manual_seed(0)  # our layers draw from torch's generator when given none
    for name, model in (
        ("ResNet-18 + DropBlock", resnet_with_dropblock()),
        ("ViT + DropPath", TinyViT()),
    ):
        losses = train(model)
        model.eval()  # both are the identity in eval: the same output twice
        x = torch.randn(2, 3, 64, 64)
        assert torch.equal(model(x), model(x))
        print(f"{name:22} losses {' '.join(f'{v:.3f}' for v in losses)}")
    kept = sd.drop_block2d(torch.ones(1, 1, 8, 8), 0.3, 3, generator=0)[0, 0].ne(0)
    print("a DropBlock mask (8x8, b=3, p=0.3; 1 kept):")
    print("\n".join("  " + "".join(str(int(v)) for v in row) for row in kept))


if __name__ == "__main__":
    main()
