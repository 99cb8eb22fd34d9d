"""KerasTuner oracles over a channel search space that never propose a configuration over a MACs budget.

KerasTuner is used model-free (design.md): an oracle proposes channel configurations as hyperparameters ``c0``..``c7``
(``c0``..``c13`` in a space with block layouts)
and a tuner's ``run_trial`` scores them (from a supernet's shared weights). :class:`EvolutionOracle` is Fast GAN
Compression's evolutionary search; :class:`BudgetedRandomOracle` and :class:`BudgetedBayesianOracle` are
KerasTuner's built-in oracles with the same budget rule. Oracle state (trials, queue, random state) is saved by
KerasTuner in the project directory, so a search resumes without re-scoring finished trials.
"""

from __future__ import annotations

import keras_tuner
import numpy as np

from tfgancomp.models.config import LAYOUT_LENGTH
from tfgancomp.search.space import SearchSpace

POSITIONS = tuple(f"c{i}" for i in range(LAYOUT_LENGTH))


def space_hyperparameters(space: SearchSpace) -> keras_tuner.HyperParameters:
    """The space as KerasTuner hyperparameters: one ``Choice`` ``c{i}`` per position."""
    hp = keras_tuner.HyperParameters()
    for name, choices in zip(POSITIONS, space.choices, strict=False):
        hp.Choice(name, list(choices), ordered=name not in ("c8", "c9", "c10"))  # block kinds are not ordered
    return hp


def config_of(values: dict) -> tuple[int, ...]:
    """The configuration of a trial's hyperparameter values."""
    return tuple(int(values[name]) for name in POSITIONS if name in values)


def values_of(config) -> dict:
    """Hyperparameter values of a configuration."""
    return {name: int(w) for name, w in zip(POSITIONS, config, strict=False)}


class _Budget:
    """The budget rule shared by the oracles: ``cost(config) <= budget``; mixed in before a KerasTuner oracle."""

    def __init__(self, space: SearchSpace, cost, budget: float, objective="score", max_trials: int = 500,
                 seed: int = 0, max_resample: int = 1000, **kwargs):  # fmt: skip
        if isinstance(objective, str):
            objective = keras_tuner.Objective(objective, direction="max")
        super().__init__(objective=objective, max_trials=max_trials, hyperparameters=space_hyperparameters(space),
                         seed=seed, **kwargs)  # fmt: skip
        # KerasTuner replaces a falsy seed with a random one, which made seed 0 (our default) irreproducible.
        self.seed = self._seed_state = int(seed)
        if isinstance(self, keras_tuner.oracles.BayesianOptimizationOracle):
            self._random_state, self.gpr = np.random.RandomState(self.seed), self._make_gpr()
        self.space, self.cost, self.budget, self.max_resample = space, cost, float(budget), int(max_resample)
        self._costs: dict[tuple[int, ...], float] = {}  # cost is a pure function of the config; asked many times
        smallest = cost(space.smallest())
        if smallest > self.budget:
            raise ValueError(
                f"budget {self.budget:.6g} is below the smallest configuration of space {space.name!r} "
                f"({space.encode(space.smallest())}: {smallest:.6g}); raise the budget"
            )

    def end_trial(self, trial):
        """End a trial, then save the oracle again.

        KerasTuner saves before it drops the trial from the ongoing ones, so a search stopped right after would
        re-run (re-score) that finished trial when resumed.
        """
        super().end_trial(trial)
        self.save()

    def within_budget(self, config) -> bool:
        """Whether ``config`` costs no more than the budget."""
        key = tuple(int(w) for w in config)
        if key not in self._costs:
            self._costs[key] = self.cost(config)
        return self._costs[key] <= self.budget

    def _random_under_budget(self, rng: np.random.Generator):
        """A uniformly random untried configuration under the budget, or ``None`` after ``max_resample`` tries."""
        for _ in range(self.max_resample):
            config = self.space.sample(rng)
            if self.within_budget(config) and not self._duplicate(values_of(config)):
                return config
        return None


class EvolutionOracle(_Budget, keras_tuner.Oracle):
    """Fast GAN Compression's evolutionary search as a KerasTuner oracle.

    The first ``population_size`` trials are uniformly random configurations under the budget. After that, each
    generation takes the best ``parent_ratio`` of the population scored so far as parents and proposes
    ``population_size`` children: a ``mutation_ratio`` share by mutation (each position resampled with probability
    ``mutate_prob``), the rest by uniform crossover of two parents. A child over the budget or already tried is
    resampled, so no proposal ever exceeds the budget.

    Args:
        space: The search space.
        cost: ``cost(config) -> float`` (e.g. MACs at the data's resolution).
        budget: The largest allowed cost.
        objective: KerasTuner objective (default ``"score"``, maximized).
        max_trials: Trials in total.
        population_size: Population (100 in Fast GAN Compression).
        parent_ratio: Share of the population kept as parents (0.25).
        mutation_ratio: Share of children made by mutation, the rest by crossover (0.5).
        mutate_prob: Per-position mutation probability (0.2).
        seed: Random seed (the search is deterministic given the scores).
        max_resample: Tries to find an untried child under the budget before falling back to a random one.
        **kwargs: Passed to ``keras_tuner.Oracle``.
    """

    def __init__(
        self,
        space: SearchSpace,
        cost,
        budget: float,
        objective="score",
        max_trials: int = 500,
        population_size: int = 100,
        parent_ratio: float = 0.25,
        mutation_ratio: float = 0.5,
        mutate_prob: float = 0.2,
        seed: int = 0,
        max_resample: int = 1000,
        **kwargs,
    ):
        super().__init__(space, cost, budget, objective, max_trials, seed, max_resample, **kwargs)
        if population_size < 2:
            raise ValueError(f"population_size must be >= 2, got {population_size}")
        for what, value in (("parent_ratio", parent_ratio), ("mutation_ratio", mutation_ratio),
                            ("mutate_prob", mutate_prob)):  # fmt: skip
            if not 0 <= value <= 1:
                raise ValueError(f"{what} must be in [0, 1], got {value}")
        self.population_size, self.parent_ratio = int(population_size), float(parent_ratio)
        self.mutation_ratio, self.mutate_prob = float(mutation_ratio), float(mutate_prob)
        self._queue: list[list[int]] = []
        self._generation = 0

    # ------------------------------------------------------------------------------------------ proposals

    def _scored(self) -> list[tuple[float, tuple[int, ...]]]:
        sign = 1.0 if self.objective.direction == "max" else -1.0
        out = [(sign * t.score, config_of(t.hyperparameters.values)) for t in self.trials.values()
               if t.status == "COMPLETED" and t.score is not None]  # fmt: skip
        return sorted(out, key=lambda s: s[0], reverse=True)

    def _next_generation(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self._generation, len(self.trials)])
        self._generation += 1
        scored = self._scored()
        proposed: set[tuple[int, ...]] = set()
        tried: dict[tuple[int, ...], bool] = {}  # the trials do not change while a generation is drawn

        def fresh(config):
            if config is None or config in proposed:
                return False
            if config not in tried:
                tried[config] = self._duplicate(values_of(config))
            return not tried[config]

        def add(config):
            proposed.add(config)
            batch.append(list(config))

        batch: list[list[int]] = []
        if len(scored) < self.population_size:
            for _ in range(self.population_size - len(self.trials) if not scored else self.population_size):
                for _ in range(self.max_resample):
                    config = self._random_under_budget(rng)
                    if config is None or fresh(config):
                        break
                if config is None:
                    break
                if fresh(config):
                    add(config)
            return batch
        population = [c for _, c in scored[: self.population_size]]
        parents = population[: max(1, int(round(self.parent_ratio * self.population_size)))]
        n_mutate = int(round(self.mutation_ratio * self.population_size))
        for i in range(self.population_size):
            child = None
            for _ in range(self.max_resample):
                if i < n_mutate or len(parents) < 2:
                    child = self._mutate(parents[rng.integers(len(parents))], rng)
                else:
                    a, b = rng.choice(len(parents), size=2, replace=False)
                    child = self._crossover(parents[a], parents[b], rng)
                if self.within_budget(child) and fresh(child):
                    break
                child = None
            if child is None:
                child = self._random_under_budget(rng)
            if child is not None and fresh(child):
                add(child)
        return batch

    def _mutate(self, config, rng) -> tuple[int, ...]:
        return tuple(
            int(choices[rng.integers(len(choices))]) if rng.random() < self.mutate_prob else w
            for w, choices in zip(config, self.space.choices, strict=True)
        )

    @staticmethod
    def _crossover(a, b, rng) -> tuple[int, ...]:
        return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True))

    def populate_space(self, trial_id):
        while self._queue:
            config = tuple(self._queue.pop(0))
            if not self._duplicate(values_of(config)):
                return {"status": "RUNNING", "values": values_of(config)}
        self._queue = self._next_generation()
        if not self._queue:
            return {"status": "STOPPED", "values": None}
        return {"status": "RUNNING", "values": values_of(self._queue.pop(0))}

    def get_state(self):
        state = super().get_state()
        state.update(evolution_queue=self._queue, evolution_generation=self._generation)
        return state

    def set_state(self, state):
        super().set_state(state)
        self._queue = [list(c) for c in state.get("evolution_queue", [])]
        self._generation = int(state.get("evolution_generation", 0))


class BudgetedRandomOracle(_Budget, keras_tuner.oracles.RandomSearchOracle):
    """KerasTuner's random search over the space, resampling any proposal over the budget.

    Args:
        space: The search space.
        cost: ``cost(config) -> float``.
        budget: The largest allowed cost.
        objective: KerasTuner objective (default ``"score"``, maximized).
        max_trials: Trials in total.
        seed: Random seed.
        max_resample: Proposals to try before stopping the search as exhausted.
        **kwargs: Passed to ``RandomSearchOracle``.
    """

    def populate_space(self, trial_id):
        for _ in range(self.max_resample):
            response = super().populate_space(trial_id)
            if response["status"] != "RUNNING" or self.within_budget(config_of(response["values"])):
                return response
        return {"status": "STOPPED", "values": None}


class BudgetedBayesianOracle(_Budget, keras_tuner.oracles.BayesianOptimizationOracle):
    """KerasTuner's Bayesian optimization over the space; a proposal over the budget is replaced by a random one.

    Args:
        space: The search space.
        cost: ``cost(config) -> float``.
        budget: The largest allowed cost.
        objective: KerasTuner objective (default ``"score"``, maximized).
        max_trials: Trials in total.
        seed: Random seed.
        max_resample: Random proposals to try before stopping the search as exhausted.
        **kwargs: Passed to ``BayesianOptimizationOracle``.
    """

    def populate_space(self, trial_id):
        response = super().populate_space(trial_id)
        if response["status"] != "RUNNING" or self.within_budget(config_of(response["values"])):
            return response
        rng = np.random.default_rng([self.seed, len(self.trials)])
        config = self._random_under_budget(rng)
        if config is None:
            return {"status": "STOPPED", "values": None}
        return {"status": "RUNNING", "values": values_of(config)}


#: Oracle name (CLI ``--oracle``) -> class.
ORACLES = {"evolution": EvolutionOracle, "random": BudgetedRandomOracle, "bayesian": BudgetedBayesianOracle}
