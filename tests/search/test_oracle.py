from __future__ import annotations

import itertools

import keras_tuner
import numpy as np
import pytest

from tfgancomp.search import get_space
from tfgancomp.search.oracle import BudgetedBayesianOracle, BudgetedRandomOracle, EvolutionOracle, config_of
from tfgancomp.search.space import resnet_macs_of_widths

SIZE = 64
WEIGHTS = np.array([1.0, 0.6, 1.4, 0.9, 0.7, 1.1, 0.8, 0.5])


def objective(configs):
    """A known synthetic objective: wider is better, unbalanced neighbours are penalized."""
    c = np.asarray(configs, np.float64)
    lc = np.log(c)
    return (WEIGHTS * np.sqrt(c)).sum(-1) - 0.8 * ((lc[..., 1:] - lc[..., :-1]) ** 2).sum(-1)


def cost(config):
    return int(resnet_macs_of_widths(np.asarray(config), SIZE, SIZE))


@pytest.fixture(scope="module")
def problem():
    space = get_space("channels-64-pix2pix")
    grid = np.array(list(itertools.product(*space.choices)), np.int64)
    macs = resnet_macs_of_widths(grid, SIZE, SIZE)
    budget = 0.3 * macs.max()
    optimum = objective(grid)[macs <= budget].max()  # brute force over all 5.7 M configurations
    return space, budget, optimum


def drive(oracle, directory, trials, budget, stop_after=None):
    """Run the model-free search loop the tuner runs: propose, score, report. Returns scores in trial order."""
    oracle._set_project_dir(str(directory), "search")
    oracle.verbose = 0
    scores = []
    for _ in range(trials if stop_after is None else stop_after):
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            break
        config = config_of(trial.hyperparameters.values)
        assert cost(config) <= budget, f"trial {trial.trial_id} proposed {config} over the budget"
        score = float(objective(config))
        oracle.update_trial(trial.trial_id, {"score": score})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        scores.append(score)
    return scores


def test_evolution_finds_the_budgeted_optimum_and_beats_random_search(problem, tmp_path, monkeypatch):
    """Acceptance (issue #5): 500 trials, 10 seeds, channels-64-pix2pix; no trial over the budget.

    The oracles' files are not written here (the next test checks that they resume a search): KerasTuner rewrites
    oracle.json, which lists every trial, after each step, which made this test of the search itself 60 % file I/O.
    """
    monkeypatch.setattr(keras_tuner.Oracle, "save", lambda self: None)
    monkeypatch.setattr(keras_tuner.Oracle, "_save_trial", lambda self, trial: None)
    space, budget, optimum = problem
    gaps, wins = [], 0
    for seed in range(10):
        evolution = EvolutionOracle(space, cost, budget, max_trials=500, population_size=50, seed=seed)
        random = BudgetedRandomOracle(space, cost, budget, max_trials=500, seed=seed)
        best_evolution = max(drive(evolution, tmp_path / f"e{seed}", 500, budget))
        best_random = max(drive(random, tmp_path / f"r{seed}", 500, budget))
        gaps.append((optimum - best_evolution) / optimum)
        wins += best_evolution > best_random
    print("gaps to the optimum (%):", [round(100 * float(g), 3) for g in gaps], "wins over random:", wins)
    assert wins >= 9
    assert min(gaps) <= 0.01 and sum(g <= 0.01 for g in gaps) >= 8


def test_an_interrupted_search_resumes_to_the_same_trials(problem, tmp_path):
    space, budget, _ = problem
    whole = drive(EvolutionOracle(space, cost, budget, max_trials=120, population_size=20, seed=3), tmp_path / "a",
                  120, budget)  # fmt: skip
    first = drive(EvolutionOracle(space, cost, budget, max_trials=120, population_size=20, seed=3), tmp_path / "b",
                  120, budget, stop_after=50)  # fmt: skip
    resumed = EvolutionOracle(space, cost, budget, max_trials=120, population_size=20, seed=3)
    resumed._set_project_dir(str(tmp_path / "b"), "search")
    resumed.reload()
    assert len(resumed.trials) == 50
    rest = drive(resumed, tmp_path / "b", 120, budget)
    assert len(first) + len(rest) == len(whole) == 120
    assert first + rest == whole


@pytest.mark.parametrize("oracle", [EvolutionOracle, BudgetedRandomOracle, BudgetedBayesianOracle])
def test_seed_zero_is_a_seed(oracle, problem, tmp_path):
    """KerasTuner swaps a falsy seed for a random one; seed 0, the CLI's default, must repeat its search too."""
    space, budget, _ = problem
    kwargs = {"population_size": 20} if oracle is EvolutionOracle else {}
    trials = 60 if oracle is EvolutionOracle else 8
    runs = [drive(oracle(space, cost, budget, max_trials=trials, seed=0, **kwargs), tmp_path / str(i), trials, budget)
            for i in range(2)]  # fmt: skip
    assert len(runs[0]) == trials and runs[0] == runs[1]


def test_bayesian_oracle_respects_the_budget_and_bad_budgets_are_refused(problem, tmp_path):
    space, budget, _ = problem
    scores = drive(BudgetedBayesianOracle(space, cost, budget, max_trials=15, seed=0), tmp_path, 15, budget)
    assert len(scores) == 15
    with pytest.raises(ValueError, match="below the smallest configuration"):
        EvolutionOracle(space, cost, 1000)
    with pytest.raises(ValueError, match="mutate_prob"):
        EvolutionOracle(space, cost, budget, mutate_prob=2)
