"""Assemble the sampler output into an ``xarray.DataTree`` that ArviZ reads directly."""

import datetime
import importlib.metadata

from arviz_base import from_dict
from pymc.backends.arviz import coords_and_dims_for_inferencedata, find_observations

_LIBRARIES = ("pymc_boltzmann", "pymc", "pytensor", "jax", "numpyro", "blackjax", "arviz")


def _library_versions():
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[f"{name}_version"] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            if name == "pymc_boltzmann":
                import pymc_boltzmann

                versions[f"{name}_version"] = pymc_boltzmann.__version__
    return versions


def build_datatree(model, posterior, sample_stats, attrs):
    """Return a DataTree with ``posterior``, ``sample_stats`` and, with data, ``observed_data``.

    Dims and coords come from the model (``coords`` and ``dims`` of its variables). Every
    group carries ``attrs`` plus the creation time and the versions of the libraries used.
    """
    coords, dims = coords_and_dims_for_inferencedata(model)
    groups = {"posterior": posterior, "sample_stats": sample_stats}
    observed = find_observations(model)
    if observed:
        groups["observed_data"] = observed

    attrs = {
        **attrs,
        **_library_versions(),
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "inference_library": "pymc_boltzmann",
    }
    return from_dict(
        groups,
        coords=coords,
        dims=dims,
        sample_dims=["chain", "draw"],
        attrs={"posterior": attrs, "sample_stats": attrs},
    )
