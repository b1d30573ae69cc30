"""Placeholder: the daifnet architecture is being written."""
