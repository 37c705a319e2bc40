"""The No-U-Turn Sampler of NumPyro on a model's log density (Hoffman and Gelman, JMLR 15, 2014)."""

from numpyro.infer.hmc import hmc

from pymc_boltzmann.inference.kernels.base import Kernel


class NUTSKernel(Kernel):
    """NumPyro's NUTS with its Stan-style warmup: dual averaging and a diagonal mass matrix.

    The kernel is NumPyro's functional HMC interface (``numpyro.infer.hmc.hmc``) with the
    potential energy generated from the data on every call, so the data stay arguments of the
    compiled program; NumPyro's ``MCMC`` driver would capture them as constants.

    State: NumPyro's ``HMCState`` (``z`` the position, ``i`` the iteration counter,
    ``potential_energy`` = -ln p, ``adapt_state`` the step size and mass matrix, ``rng_key``).
    Info fields: ``accept_prob``, ``diverging``, ``num_steps`` (leapfrog steps),
    ``potential_energy``, ``energy`` (Hamiltonian), ``step_size``.
    Options: ``dense_mass`` (bool, default False), ``find_heuristic_step_size`` (bool).
    """

    name = "nuts"
    default_target_accept = 0.8
    option_names = ("dense_mass", "find_heuristic_step_size")

    def __init__(self, target, settings):
        super().__init__(target, settings)
        logdensity = target.logdensity

        def potential_fn_gen(*data):
            return lambda position: -logdensity(position, data)

        self._init_kernel, self._sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")

    def init(self, rng_key, position, data):
        settings = self.settings
        step_size = 1.0 if settings.step_size is None else settings.step_size
        return self._init_kernel(
            position,
            num_warmup=settings.tune,
            step_size=step_size,
            adapt_step_size=settings.tune > 0,
            adapt_mass_matrix=settings.tune > 0,
            dense_mass=settings.options.get("dense_mass", False),
            target_accept_prob=settings.target_accept,
            max_tree_depth=settings.max_tree_depth,
            find_heuristic_step_size=settings.options.get("find_heuristic_step_size", False),
            model_args=tuple(data),
            rng_key=rng_key,
        )

    def step(self, rng_key, state, data, iteration):
        # NumPyro carries its own key in the state, seeded in init, so rng_key is unused.
        del rng_key, iteration
        state = self._sample_kernel(state, model_args=tuple(data))
        info = {
            "accept_prob": state.accept_prob,
            "diverging": state.diverging,
            "num_steps": state.num_steps,
            "potential_energy": state.potential_energy,
            "energy": state.energy,
            "step_size": state.adapt_state.step_size,
        }
        return state, info

    def position(self, state):
        return state.z
