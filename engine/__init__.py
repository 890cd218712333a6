"""duban's engine: the library behind the CLI. Kept import-free so ``duban --version`` stays fast."""

__version__ = "0.1.0"
