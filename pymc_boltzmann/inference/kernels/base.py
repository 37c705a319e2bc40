"""The interface every kernel implements: ``init`` and ``step(rng_key, state, data, iteration)``."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class KernelSettings:
    """Options shared by the kernels, as :func:`pymc_boltzmann.inference.sample` received them.

    Attributes
    ----------
    tune : int
        Number of tuning transitions, during which the kernel adapts its parameters.
    target_accept : float
        Target mean acceptance rate of the step-size adaptation.
    max_tree_depth : int
        Maximum depth of the NUTS trajectory tree (at most 2**depth leapfrog steps).
    step_size : float or None
        Initial step size (fixed step size for ``sgld``); None takes the kernel's default.
    minibatch_size : int or None
        Number of data rows per minibatch for ``sgld`` and ``penalty_mh``; None uses all rows.
    options : dict
        Extra keyword arguments of the kernel.
    """

    tune: int
    target_accept: float
    max_tree_depth: int
    step_size: object
    minibatch_size: object
    options: dict


class Kernel:
    """A Markov kernel on the flat unconstrained position of a :class:`ModelTarget`.

    A kernel is built once per run. ``init(rng_key, position, data)`` returns the state of
    one chain, and ``step(rng_key, state, data, iteration)`` returns ``(state, info)``, where
    ``info`` is a dict of this kernel's statistics under its library's names (renamed to
    ArviZ's names by :func:`pymc_boltzmann.inference.stats.to_arviz_stats`). The data come in
    as arguments on every call, so they are inputs of the compiled program, not constants.
    Transitions with ``iteration < settings.tune`` adapt the kernel's parameters.
    """

    name = None
    default_target_accept = None
    uses_minibatch = False

    def __init__(self, target, settings):
        self.target = target
        self.settings = settings
        unknown = sorted(set(settings.options) - set(self.option_names))
        if unknown:
            raise TypeError(
                f"kernel={self.name!r} got unexpected keyword arguments {unknown}; it accepts "
                f"{sorted(self.option_names) or 'no extra keyword arguments'}."
            )

    option_names = ()

    def init(self, rng_key, position, data):
        raise NotImplementedError

    def step(self, rng_key, state, data, iteration):
        raise NotImplementedError

    def position(self, state):
        """Return the flat unconstrained position of a chain state."""
        return state.position
