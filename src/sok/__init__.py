"""sok: search and cited answers over Swedish committee and council records.

`sok.Index` is the front door for programs (see sok/index.py); it is loaded
on first use, so `import sok` stays cheap for the command line."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Index", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Index":
        from sok.index import Index

        return Index
    raise AttributeError(f"module 'sok' has no attribute {name!r}")
