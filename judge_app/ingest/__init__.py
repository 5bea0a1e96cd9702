"""Importers: read task folders and community formats into TaskBundles, with validation."""

from judge_app.ingest.loader import READERS, Reader, load_bundles, register

__all__ = ["READERS", "Reader", "load_bundles", "register"]
