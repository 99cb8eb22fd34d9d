"""The search stage: a supernet's configurations scored under a MACs or predicted-latency budget (resumable).

The latency is predicted by a target's latency table (:mod:`tfgancomp.search.latency`); KerasTuner proposes.
"""

from __future__ import annotations

import os

from tfgancomp.pipeline.distill import load_teacher
from tfgancomp.pipeline.rundir import check_same_settings, folder_lock, read_json, stored_settings, write_settings
from tfgancomp.pipeline.supernet import SupernetSettings, config_cost, load_supernet, run_shape, scoring_batches
from tfgancomp.search.space import get_space
from tfgancomp.validation import check_positive_int, check_positive_number


def search(supernet_run: str, out_dir: str, budget_macs: float | None = None, oracle: str = "evolution",
           trials: int = 100, space: str | None = None, images: int = 16, objective: str | None = None,
           population: int = 50, seed: int = 0, inception_weights: str | None = None, verbose: int = 0,
           budget_ms: float | None = None, latency_table: str | None = None) -> list[dict]:  # fmt: skip
    """Search a trained supernet's configurations under a budget; resumable (same ``out_dir`` continues).

    The budget is MACs (``budget_macs``) or milliseconds (``budget_ms``) predicted by a latency table of the target
    (``latency_table``, default: the shipped host-CPU table of the training size). With a table, every trial also
    reports its predicted ms (results, scatter), whichever the budget.

    Args:
        supernet_run: The ``train_supernet`` run dir.
        out_dir: Where the KerasTuner state and the results (table, scatter) go.
        budget_macs: Largest MACs at the training resolution (or ``budget_ms``).
        oracle: ``"evolution"``, ``"random"`` or ``"bayesian"``.
        trials: Trials in total.
        space: Search space (default: the supernet's).
        images: Training images in the scoring slice.
        objective: ``"psnr"`` (paired data, default), ``"psnr_to_teacher"`` (default for unpaired data), ``"fid"``
            or ``"kid"`` (need ``inception_weights``).
        population: Evolution population.
        seed: Oracle seed.
        inception_weights: Local Inception-v3 (no top) weights file: every trial also reports FID and KID to the
            truth images of the slice.
        verbose: 1: a progress bar over the trials with the best score so far; 2: one line at the end; 0: silent.
        budget_ms: Largest predicted latency in milliseconds (instead of ``budget_macs``).
        latency_table: A latency table JSON file (``tfgancomp latency-table``) of the target.

    Returns:
        The completed trials, best first.
    """
    from tfgancomp.search.oracle import ORACLES

    if oracle not in ORACLES:
        raise ValueError(f"oracle must be one of {', '.join(ORACLES)}, got {oracle!r}")
    for what, value in (("trials", trials), ("images", images), ("population", population)):
        check_positive_int(what, value)
    if (budget_macs is None) == (budget_ms is None):
        raise ValueError("give one budget: budget_macs (--budget-macs) or budget_ms (--budget-ms)")
    check_positive_number("budget_macs" if budget_ms is None else "budget_ms", budget_macs or budget_ms)
    # KerasTuner's chief / worker mode shares one search folder: one lock per process role there
    role = os.environ.get("KERASTUNER_TUNER_ID")
    with folder_lock(out_dir, os.path.join(out_dir, f".lock-{role}") if role else None):
        return _search(supernet_run, out_dir, budget_macs, oracle, trials, space, images, objective, population, seed,
                       inception_weights, verbose, budget_ms, latency_table)  # fmt: skip


def _check_search_state(project: str) -> None:
    """Read every JSON file of a search's KerasTuner state (oracle, trials) so that a damaged one is named.

    Raises:
        ValueError: naming the file that is not valid JSON (KerasTuner's own error does not name it).
    """
    if not os.path.isdir(project):
        return
    for folder, _, files in os.walk(project):
        for name in files:
            if name.endswith(".json"):
                read_json(os.path.join(folder, name))


def latency_predictor(table_path: str | None, space, settings: dict, height: int, width: int):
    """``(table, cost)``: the latency table checked against ``space`` at the run's size, and its ms predictor.

    Raises:
        LatencyTableError: the table does not fit (another size, block, channel pair) or is malformed (named).
    """
    from tfgancomp.search.latency import find_table

    table = find_table(height, width, table_path)
    table.check(space, height, width, settings["n_blocks"])
    return table, table.predictor(settings["n_blocks"])


def _search(supernet_run, out_dir, budget_macs, oracle, trials, space, images, objective, population, seed,
            inception_weights, verbose, budget_ms=None, latency_table=None) -> list[dict]:  # fmt: skip
    from tfgancomp.metrics.quality import InceptionFeatures
    from tfgancomp.search.oracle import ORACLES
    from tfgancomp.search.tuner import SupernetTuner, write_results

    _check_search_state(os.path.join(out_dir, "search"))
    supernet, settings = load_supernet(supernet_run)
    search_space = get_space(space or settings["space"], supernet.family)
    if search_space.ngf > supernet.ngf:
        raise ValueError(f"space {search_space.name!r} is wider than the supernet ({supernet.ngf})")
    h, w = run_shape(settings)
    cost, reference_cost = config_cost(settings, h, w), config_cost(settings, 256, 256 * w // h)
    table = latency = None
    if budget_ms is not None or latency_table is not None:
        table, latency = latency_predictor(latency_table, search_space, settings, h, w)
    kwargs = {"population_size": population} if oracle == "evolution" else {}
    budget, budget_cost = (budget_macs, cost) if budget_ms is None else (budget_ms, latency)
    tuner_oracle = ORACLES[oracle](search_space, budget_cost, budget, max_trials=trials, seed=seed, **kwargs)
    objective = objective or ("psnr_to_teacher" if settings["mode"] == "unpaired" else "psnr")
    # what the folder holds; a rerun continues it only with the same search (more trials allowed)
    search_settings = {"supernet": supernet_run, "budget_macs": None if budget_macs is None else float(budget_macs),
                       "budget_ms": None if budget_ms is None else float(budget_ms),
                       "latency_table": None if table is None else {"path": table.source, "target": table.target,
                                                                    "constant_ms": table.constant_ms},
                       "oracle": oracle,
                       "trials": int(trials), "space": search_space.name, "images": int(images),
                       "objective": objective, "population": int(population), "seed": int(seed),
                       "inception_weights": inception_weights}  # fmt: skip
    check_same_settings(out_dir, search_settings, resumable=("trials",))
    write_settings(out_dir, search_settings, "search")
    stored = stored_settings(settings)
    run_settings = SupernetSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})
    teacher = load_teacher(run_settings, (h, w))
    features = InceptionFeatures(inception_weights) if inception_weights else None
    tuner = SupernetTuner(tuner_oracle, supernet, scoring_batches(settings, images), search_space, cost,
                          reference_cost, teacher, objective, directory=out_dir, project_name="search",
                          features=features, verbose=verbose, latency=latency)  # fmt: skip
    tuner.search(verbose=0)
    rows = tuner.results()
    write_results(rows, out_dir, budget, "macs" if budget_ms is None else "ms")
    return rows
