"""Channel-wise ("spatial") dropout for the arrays people train with.

``dropout2d`` and its family on NumPy, PyTorch, JAX, Dask and any array-API array: the seed's
rank table, exact ``+0.0`` for dropped channels, PyTorch's rounding of kept values, and the same
mask from the same :class:`Generator` seed on every backend.

>>> import numpy as np, spatial_dropout as sd
>>> y = sd.dropout2d(np.ones((8, 16, 4, 4), dtype=np.float32), p=0.25, generator=0)
>>> y.shape
(8, 16, 4, 4)
"""

from ._functional import (
    alpha_dropout,
    apply_mask,
    drop_block1d,
    drop_block2d,
    drop_block3d,
    drop_path,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    dropout_mask,
    feature_alpha_dropout,
)
from ._layers import (
    AlphaDropout,
    DropBlock1d,
    DropBlock2d,
    DropBlock3d,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    DropPath,
    FeatureAlphaDropout,
)
from ._options import DropoutOptions
from ._random import Generator, manual_seed
from ._shapes import mask_shape
from ._threads import get_num_threads, set_num_threads
from ._version import __version__

__all__ = [
    "AlphaDropout",
    "DropBlock1d",
    "DropBlock2d",
    "DropBlock3d",
    "DropPath",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "DropoutOptions",
    "FeatureAlphaDropout",
    "Generator",
    "__version__",
    "alpha_dropout",
    "apply_mask",
    "drop_block1d",
    "drop_block2d",
    "drop_block3d",
    "drop_path",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "dropout_mask",
    "feature_alpha_dropout",
    "get_num_threads",
    "manual_seed",
    "mask_shape",
    "set_num_threads",
]
