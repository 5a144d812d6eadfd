"""sok: search and cited answers over Swedish committee and council records."""

__version__ = "0.1.0"
