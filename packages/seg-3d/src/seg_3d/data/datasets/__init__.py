"""seg-3d's volume datasets, one module each: ``volume_folder``, ``msd`` and ``synthetic_volumes``."""
