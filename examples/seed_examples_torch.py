"""Every example of the seed's dropout2d page, on PyTorch, with spatial_dropout.dropout2d.

Run: python examples/seed_examples_torch.py
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import spatial_dropout as sd


def fraction_dropped(y: torch.Tensor) -> float:
    """Fraction of (N, C) or (C,) planes that are entirely zero."""
    planes = y.detach().flatten(-2)
    return (planes == 0).all(dim=-1).float().mean().item()


def main() -> None:
    torch.manual_seed(0)

    # Basic 2D channel dropout for images
    images = torch.randn(32, 3, 224, 224)  # ImageNet batch
    output = sd.dropout2d(images, 0.2, True)
    print(f"ImageNet batch       {tuple(output.shape)}  dropped {fraction_dropped(output):.2f}")

    # 2D CNN for image classification
    model = torch.nn.Module()
    model.train()
    inp = torch.randn(16, 64, 32, 32)
    conv_out = torch.nn.Conv2d(64, 128, 3, 1, 1)(inp)
    regularized = sd.dropout2d(conv_out, 0.3, model.training)
    pooled = F.max_pool2d(regularized, [2, 2])
    assert pooled.shape == (16, 128, 16, 16)
    print(
        f"classification       {tuple(pooled.shape)}  dropped {fraction_dropped(regularized):.2f}"
    )

    # Image segmentation network
    encoder_out = torch.randn(8, 256, 64, 64)
    dropped = sd.dropout2d(encoder_out, 0.2, True)
    decoder_out = torch.nn.ConvTranspose2d(256, 128, 4, 2, 1)(dropped)
    assert decoder_out.shape == (8, 128, 128, 128)
    print(
        f"segmentation         {tuple(decoder_out.shape)}  dropped {fraction_dropped(dropped):.2f}"
    )

    # Unbatched image (3D input): whole channels dropped, as the seed says
    image = torch.randn(64, 224, 224)
    out3 = sd.dropout2d(image, 0.1, True)
    assert out3.shape == (64, 224, 224)
    zero = (out3 == 0).all(dim=(1, 2))
    assert torch.equal(zero | (out3 != 0).all(dim=(1, 2)), torch.ones(64, dtype=torch.bool))
    print(f"unbatched (C, H, W)  {tuple(out3.shape)}  dropped {zero.float().mean().item():.2f}")

    # Training vs evaluation behaviour
    batch = torch.randn(8, 32, 28, 28)
    train_output = sd.dropout2d(batch, 0.2, True)
    eval_output = sd.dropout2d(batch, 0.2, False)
    assert eval_output is batch
    print(f"train vs eval        dropped {fraction_dropped(train_output):.2f} / eval is input")

    # Different dropout rates for different depths
    shallow = sd.dropout2d(torch.randn(4, 64, 56, 56), 0.1, True)
    deep = sd.dropout2d(torch.randn(4, 512, 7, 7), 0.5, True)
    rates = f"shallow {fraction_dropped(shallow):.2f}, deep {fraction_dropped(deep):.2f}"
    print(f"depths               {rates}")

    # Object detection with feature pyramid
    features = [torch.randn(8, 256, s, s) for s in (56, 28, 14, 7)]  # P2..P5
    pyramid = [sd.dropout2d(f, 0.2, True) for f in features]
    print("feature pyramid      " + ", ".join(f"{fraction_dropped(f):.2f}" for f in pyramid))

    # ResNet residual block with dropout
    inp = torch.randn(32, 128, 32, 32)
    conv1_out = torch.nn.Conv2d(128, 128, 3, 1, 1)(inp)
    relu1 = F.relu(conv1_out)
    drop1 = sd.dropout2d(relu1, 0.1, True)
    conv2_out = torch.nn.Conv2d(128, 128, 3, 1, 1)(drop1)
    final = F.relu(conv2_out + inp)
    assert final.shape == inp.shape
    print(f"residual block       {tuple(final.shape)}  dropped {fraction_dropped(drop1):.2f}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
