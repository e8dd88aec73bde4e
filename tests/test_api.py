"""The public surface: options forms, layers, imports, and the demo."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import spatial_dropout as sd


def test_options_object_and_mapping_match_keywords():
    x = np.ones((4, 16, 3, 3))
    ref = sd.dropout2d(x, 0.2, True, generator=sd.Generator(1))
    a = sd.dropout2d(x, sd.DropoutOptions(p=0.2), generator=sd.Generator(1))
    b = sd.dropout2d(x, {"p": 0.2, "training": True}, generator=sd.Generator(1))
    np.testing.assert_array_equal(a, ref)
    np.testing.assert_array_equal(b, ref)
    assert sd.dropout2d(x, sd.DropoutOptions(training=False)) is x
    assert sd.dropout2d(x, {"inplace": True, "p": 0.2}, generator=0) is x


def test_options_training_none_keeps_the_function_default():
    x = np.ones(10)
    assert sd.alpha_dropout(x, sd.DropoutOptions(p=0.3)) is x  # alpha: training=False default
    assert sd.dropout(x, sd.DropoutOptions(p=0.3), generator=0) is not x


def test_all_is_sorted_and_complete():
    assert sd.__all__ == sorted(sd.__all__)
    for name in sd.__all__:
        assert hasattr(sd, name)
    public = {n for n in dir(sd) if not n.startswith("_")} - {
        "torch",
        "flax",
        "equinox",
    }  # submodules
    assert public <= set(sd.__all__)


@pytest.mark.parametrize(
    ("cls", "fn"),
    [
        (sd.Dropout, sd.dropout),
        (sd.Dropout1d, sd.dropout1d),
        (sd.Dropout2d, sd.dropout2d),
        (sd.Dropout3d, sd.dropout3d),
        (sd.AlphaDropout, sd.alpha_dropout),
        (sd.FeatureAlphaDropout, sd.feature_alpha_dropout),
    ],
)
def test_layers_follow_train_and_eval(cls, fn):
    layer = cls(0.4)
    assert layer.training
    assert repr(layer) == f"{cls.__name__}(p=0.4, inplace=False)"
    x = np.random.default_rng(0).standard_normal((2, 8, 3, 3, 3))[..., 0]
    np.testing.assert_array_equal(
        layer(x, generator=sd.Generator(2)), fn(x, 0.4, True, generator=sd.Generator(2))
    )
    assert layer.eval() is layer
    assert layer(x) is x
    assert layer.train().training


def test_layer_channels_last():
    layer = sd.Dropout2d(0.5, data_format="channels_last")
    x = np.ones((2, 4, 4, 8))
    y = layer(x, generator=0)
    assert ((y == 0).all(axis=(1, 2)) | (y == 2).all(axis=(1, 2))).all()


def test_importing_imports_no_framework():
    code = (
        "import sys, spatial_dropout, numpy as np;"
        "assert 'numba' not in sys.modules;"  # the compiled kernels load on first use
        "spatial_dropout.dropout2d(np.ones((2, 3, 4, 4)), generator=0);"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'jax', 'jaxlib', 'dask', 'cupy', 'tensorflow', 'ml_dtypes',"
        " 'array_api_strict'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_demo_runs_and_reports_each_example(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "spatial_dropout", "demo", "--picture", ""],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    for label in ["ImageNet batch", "unbatched", "eval", "feature pyramid", "P5"]:
        assert label in out
    assert "dropped" in out
    assert list(tmp_path.iterdir()) == []


def test_demo_picture(tmp_path):
    from conftest import require

    require("matplotlib")
    require("skimage")
    from spatial_dropout import _picture

    path = tmp_path / "demo.png"
    assert _picture.make(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    structured = tmp_path / "structured.png"  # docs/img/structured.png
    assert _picture.make_structured(str(structured))
    assert structured.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    maps = _picture.feature_maps(np.ones((10, 12), dtype=np.float32))
    assert maps.shape == (len(_picture.FILTERS), 8, 10)


def test_version_flag():
    out = subprocess.run(
        [sys.executable, "-m", "spatial_dropout", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == f"spatial-dropout {sd.__version__}"


# --- the variant registry: everything that lists the variants reads it -----------------------

from spatial_dropout._variants import VARIANTS  # noqa: E402

FRAMEWORK_MODULES = [
    "spatial_dropout",
    "spatial_dropout.torch",
    "spatial_dropout.flax",
    "spatial_dropout.equinox",
]


@pytest.mark.parametrize("module", FRAMEWORK_MODULES)
@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_has_a_function_and_a_layer_everywhere(module, name):
    from conftest import require

    variant = VARIANTS[name]
    mod = require(module)
    assert callable(getattr(sd, name))
    layer = getattr(mod, variant.layer)
    assert layer._variant is variant
    assert variant.layer in mod.__all__


def test_replace_dropout_covers_every_variant_with_a_torch_counterpart():
    from conftest import require

    torch = require("torch")
    from spatial_dropout import torch as sdt

    mapped = [v for v in VARIANTS.values() if v.torch_layer is not None]
    model = torch.nn.Sequential(*(getattr(torch.nn, v.torch_layer)(0.25) for v in mapped))
    sdt.replace_dropout(model)
    assert [type(m).__name__ for m in model] == [v.layer for v in mapped]
    assert all(type(m).__module__ == "spatial_dropout.torch" and m.p == 0.25 for m in model)


def test_a_variant_without_a_torch_counterpart_leaves_the_torch_module_importable():
    """A registry entry with ``torch_layer=None`` (and no layer class yet) breaks nothing."""
    import subprocess
    import sys

    from conftest import require

    require("torch")
    code = (
        "from spatial_dropout._variants import VARIANTS, Variant\n"
        "from spatial_dropout._scale import inverted_transform\n"
        "VARIANTS['drop_x'] = Variant('drop_x', 'DropX', lambda s, f, p: s, inverted_transform)\n"
        "import spatial_dropout.torch as sdt, torch\n"
        "m = sdt.replace_dropout(torch.nn.Sequential(torch.nn.Dropout(0.1)))\n"
        "print(type(m[0]).__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "spatial_dropout.torch"


def test_api_reference_page_lists_every_public_name():
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "reference.md").read_text()
    for name in [*VARIANTS, *sd.__all__]:
        if not name.startswith("__"):
            assert f"::: spatial_dropout.{name}" in page or f"{name}," in page, name
    for variant in VARIANTS.values():
        assert variant.layer in page


def test_dropout_mask_kinds_are_the_registry():
    x = np.ones((2, 3, 4, 4), dtype=np.float32)
    maps = {
        "drop_block1d": (2, 3, 8),
        "drop_block2d": (2, 3, 4, 4),
        "drop_block3d": (2, 3, 4, 4, 4),
    }
    for name in VARIANTS:
        if name in maps:  # DropBlock: a map of its rank, and a block
            a = np.ones(maps[name], dtype=np.float32)
            assert sd.dropout_mask(a, 0.5, kind=name, block_size=2, generator=0).dtype == bool
        else:
            assert sd.dropout_mask(x, 0.5, kind=name, generator=0).dtype == bool
    with pytest.raises(ValueError, match=", ".join(VARIANTS)):
        sd.dropout_mask(x, 0.5, kind="nope")


_SECTIONS = ("Parameters", "Returns", "Raises", "Examples")


def _public_callables():
    import inspect

    for name in sd.__all__:
        obj = getattr(sd, name)
        if callable(obj) and not inspect.isclass(obj):
            yield name, obj


@pytest.mark.parametrize(("name", "obj"), list(_public_callables()))
def test_public_functions_document_every_section(name, obj):
    doc = obj.__doc__ or ""
    for section in _SECTIONS:
        if section == "Parameters" and name == "get_num_threads":
            continue  # takes nothing
        assert f"{section}\n    {'-' * len(section)}" in doc, f"{name}: no {section}"


def test_every_raise_goes_through_validation():
    """User-facing errors are written in _validation.py, in _shapes.py (the checks of
    ``offset``/``global_shape``, beside the shapes they check) and in each framework's own
    ``*_errors.py`` (ruff's EM rules keep their messages in variables there)."""
    import ast
    from pathlib import Path

    src = Path(sd.__file__).parent
    offenders = []
    for path in src.rglob("*.py"):
        if path.name in ("_validation.py", "_shapes.py") or path.name.endswith("_errors.py"):
            continue  # the core's messages, and each framework's own
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                offenders.append(f"{path.relative_to(src)}:{node.lineno}")
    # internal guards, unreachable from the public functions (flax.py: its own message)
    assert sorted(o.split(":")[0] for o in offenders) == [
        "_backends/_contract.py",
        "_random/_philox.py",
        "_scale.py",
        "flax.py",
    ]
