"""Placeholder: the dffwild architecture is being written."""
