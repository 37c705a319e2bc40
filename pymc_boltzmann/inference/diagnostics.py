"""Log the sampler problems visible in the sample statistics: divergences and tree-depth saturation."""

import logging

import numpy as np

logger = logging.getLogger(__name__)


def log_sampler_problems(stats, kernel_name, target_accept, max_tree_depth):
    """Log divergent transitions and NUTS trees that reached the maximum depth.

    Returns
    -------
    dict
        ``{"divergences": int, "max_tree_depth_hits": int}`` (0 where not applicable).
    """
    counts = {"divergences": 0, "max_tree_depth_hits": 0}
    if "diverging" in stats:
        counts["divergences"] = int(np.sum(stats["diverging"]))
    if "reached_max_treedepth" in stats:
        counts["max_tree_depth_hits"] = int(np.sum(stats["reached_max_treedepth"]))
    n_draws = int(np.size(stats["step_size"])) if "step_size" in stats else 0

    if counts["divergences"] > 0:
        higher = min(0.99, 1.0 - (1.0 - target_accept) / 2.0)
        logger.warning(
            "kernel=%r: %d of %d draws after tuning are divergent (threshold 0). The posterior "
            "has regions of high curvature that the integrator cannot follow: raise "
            "target_accept from %.3g to %.3g, or reparameterize the model (for example a "
            "non-centered prior).",
            kernel_name,
            counts["divergences"],
            n_draws,
            target_accept,
            higher,
        )
    if counts["max_tree_depth_hits"] > 0:
        logger.warning(
            "kernel=%r: %d of %d draws reached the maximum tree depth %d (threshold 0), so "
            "those trajectories stopped before the U-turn and the chains explore slowly: "
            "raise max_tree_depth to %d, or reparameterize or rescale the model.",
            kernel_name,
            counts["max_tree_depth_hits"],
            n_draws,
            max_tree_depth,
            max_tree_depth + 2,
        )
    return counts


def log_penalty(stats, kernel_name):
    """Log the mean noise penalty of ``penalty_mh`` and the acceptance it costs."""
    if "penalty" not in stats:
        return
    mean_penalty = float(np.mean(stats["penalty"]))
    logger.info(
        "kernel=%r: mean noise penalty %.3g (acceptance factor exp(-penalty) = %.3g) and mean "
        "acceptance rate %.3g. A penalty above about 1 wastes most proposals: use a larger "
        "minibatch_size or a smaller step_size.",
        kernel_name,
        mean_penalty,
        float(np.exp(-mean_penalty)),
        float(np.mean(stats["acceptance_rate"])),
    )
