"""Datasets in their official layouts (one module each). Build them with :func:`seg_data.create_dataset`."""
