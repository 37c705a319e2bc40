"""Sampler statistics under ArviZ's names."""

import numpy as np

# Kernel statistic name -> ArviZ sample_stats name, for every kernel.
_ARVIZ_NAMES = {
    "accept_prob": "acceptance_rate",
    "acceptance_rate": "acceptance_rate",
    "diverging": "diverging",
    "is_divergent": "diverging",
    "is_accepted": "accepted",
    "num_steps": "n_steps",
    "num_integration_steps": "n_steps",
    "energy": "energy",
    "step_size": "step_size",
    "logdensity": "lp",
    "penalty": "penalty",
}


def to_arviz_stats(info, max_tree_depth=None):
    """Rename a kernel's statistics to ArviZ's names and derive the NUTS tree depth.

    Parameters
    ----------
    info : dict of numpy.ndarray
        Statistics of shape ``(chain, draw)`` under the kernel's names.
    max_tree_depth : int, optional
        NUTS maximum tree depth; with it, ``reached_max_treedepth`` is added.

    Returns
    -------
    dict of numpy.ndarray
        ``diverging``, ``acceptance_rate``, ``step_size``, ``lp`` (ln p of the draw),
        ``tree_depth``, ``n_steps``, ``energy`` and the kernel's own statistics, where they
        apply.
    """
    stats = {}
    for name, value in info.items():
        if name == "potential_energy":
            # NumPyro's potential energy is -ln p.
            stats["lp"] = -np.asarray(value)
            continue
        if name not in _ARVIZ_NAMES:
            raise KeyError(f"sampler statistic {name!r} has no ArviZ name; add it to _ARVIZ_NAMES.")
        stats[_ARVIZ_NAMES[name]] = np.asarray(value)

    if "num_steps" in info:
        # A NUTS tree of depth d takes up to 2**d - 1 leapfrog steps.
        n_steps = np.maximum(np.asarray(info["num_steps"]), 1)
        stats["tree_depth"] = np.floor(np.log2(n_steps)).astype(int) + 1
        if max_tree_depth is not None:
            stats["reached_max_treedepth"] = stats["tree_depth"] >= max_tree_depth
    return stats
