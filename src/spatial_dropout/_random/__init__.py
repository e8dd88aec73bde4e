"""The portable counter-based generator and the global stream."""

from ._generator import Generator, default_generator, manual_seed
from ._philox import philox4x32, random_words

__all__ = ["Generator", "default_generator", "manual_seed", "philox4x32", "random_words"]
