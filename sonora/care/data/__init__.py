"""Data files for :mod:`sonora.care` (resources, prototypes, labelled notes)."""
