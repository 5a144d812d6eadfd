"""Questions to ranked passages and cited answers."""
