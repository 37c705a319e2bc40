"""Atomic file writes: results appear complete under their final name or not at all."""

import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    The temporary file lives in the same folder, so the final ``os.replace`` is atomic on
    POSIX file systems. If the block raises, the temporary file is removed and an existing
    file at ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    # mkstemp creates the file readable by its owner only; results get the usual umask instead.
    os.chmod(temporary, 0o666 & ~_current_umask())
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path, payload):
    """Write a JSON document to ``path`` atomically, with sorted keys and NaN written as null."""
    write_text(path, json.dumps(_json_safe(payload), indent=2, sort_keys=True) + "\n")


def _json_safe(value):
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if hasattr(value, "tolist"):
        return _json_safe(value.tolist())
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return None
    return value


def save_datatree(tree, path):
    """Save an ``xarray.DataTree`` as netCDF4 (h5netcdf engine) at ``path`` atomically."""
    with atomic_path(path) as temporary:
        tree.to_netcdf(temporary, engine="h5netcdf")


def save_figure(figure, path, dpi=120):
    """Save a matplotlib figure as PNG at ``path`` atomically."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi, bbox_inches="tight")
