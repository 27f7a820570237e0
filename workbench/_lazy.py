"""Names a package offers without importing what holds them until one is used (PEP 562): ``import
workbench`` stays quick (a fresh kernel took 8 s when it imported torch, Lightning, Optuna and aeon
at once), and each heavy library loads with the first name that needs it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: each name of ``names`` (name → the module that
    defines it, or the module itself when the name is its last part) is imported on first use and
    kept in the package, so that the next use costs nothing."""

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(names[name])
        value = module if names[name].rsplit(".", 1)[-1] == name else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
