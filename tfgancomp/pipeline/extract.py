"""Extraction: the plain sub-mobile generator of one configuration of a trained supernet, in its own folder."""

from __future__ import annotations

import os

from tfgancomp.metrics.profiler import profile
from tfgancomp.pipeline.rundir import folder_lock, remove_stale_temps, save_model, write_json, write_settings
from tfgancomp.pipeline.supernet import load_supernet, run_shape, scoring_batches
from tfgancomp.search.supernet import extract_subnet
from tfgancomp.validation import check_positive_int

#: The fields of a supernet run's settings that say which data feeds the subnet (copied into ``settings.json``).
DATA_FIELDS = ("task", "data", "size", "aspect_ratio", "direction", "label_nc", "instance", "n_blocks", "on_error")


def extract(supernet_run: str, config, out_dir: str, images: int = 16) -> str:
    """Write ``out_dir/generator.keras``: the plain subnet of ``config`` at the run's resolution; returns the path.

    A batch-norm supernet (GauGAN, ``param_free_norm="batch"``) is first recalibrated for ``config`` on the same
    training slice the search scores on (``images`` images), so the subnet carries that configuration's statistics.
    ``settings.json`` (stage ``extract``: the supernet run, the configuration, the data fields) and ``metrics.json``
    (MACs, params at the training size) make the folder self-describing for the later stages.
    """
    check_positive_int("images", images)
    supernet, settings = load_supernet(supernet_run)
    h, w = run_shape(settings)
    with folder_lock(out_dir):
        remove_stale_temps(out_dir)
        if supernet.batch_norms():
            supernet.calibrate([x for x, _ in scoring_batches(settings, images)], config)
        subnet = extract_subnet(supernet, config, h, w, name="student")
        path = os.path.join(out_dir, "generator.keras")
        save_model(subnet, path)
        # self-describing: the data fields of the supernet run feed every later stage (export, fine-tune)
        inputs = {k: settings.get(k) for k in DATA_FIELDS}
        write_settings(out_dir, {"supernet": supernet_run, "config": subnet.config_string, "images": int(images),
                                 "teacher": settings.get("teacher"), **inputs}, "extract")  # fmt: skip
        cost = profile(subnet)
        write_json(os.path.join(out_dir, "metrics.json"), {"costs": {"at_training_size": {
            "macs": cost.macs, "params": cost.params, "height": cost.height, "width": cost.width}}})  # fmt: skip
    return path
