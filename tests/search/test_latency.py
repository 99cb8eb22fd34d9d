"""Latency tables: the file format and its errors, the prediction, the fit check, and building one on the host and,
against stand-in adb / ssh executables, on an Android phone and a Jetson board."""

from __future__ import annotations

import copy
import json
import sys

import pytest

from tests.stand_ins import calls, phone_adb, ssh_that_runs_locally, stand_in
from tfgancomp.cli import main
from tfgancomp.models.resnet import RESNET_STAGES
from tfgancomp.pipeline import LatencyTableSettings, build_latency_table
from tfgancomp.search import LatencyTable, LatencyTableError, SearchSpace, find_table, get_space, shipped_tables
from tfgancomp.search.latency import fit_calibration, stage_pairs

SPACE = SearchSpace("lt", "resnet", [[8, 4], [8], [8], [8, 4], [8], [8], [8], [8, 4]] + [[0, 1], [0], [0]]
                    + [[2, 1], [2], [2]])  # fmt: skip
ONE = SearchSpace("one", "resnet", [[8]] * 8 + [[0, 1], [0], [0]] + [[1]] * 3)


def synthetic(space=SPACE, height=32, width=32) -> LatencyTable:
    """A table whose entry for (stage, a, b) is a known function of them (no measurement)."""
    stages = {}
    for k, (stage, pairs) in enumerate(sorted(stage_pairs(space).items())):
        stages[stage] = {f"{a},{b}": (k + 1) * 0.01 + a * 1e-3 + b * 1e-4 for a, b in pairs}
    target = {"kind": "host", "device": "test CPU", "runtime": "LiteRT", "threads": 2, "precision": "float32"}
    return LatencyTable(target, height, width, 3, 3, stages, 0.25, 1.5)


def test_prediction_is_the_constant_plus_the_scaled_sum_of_every_stage_times_its_count():
    table = synthetic()
    s = table.stages
    config = SPACE.decode("4_8_8_8dx2_8x2_8x2_8_4")
    summed = s["stem"]["3,4"] + s["down1"]["4,16"] + s["down2"]["16,32"] + 2 * s["block_dense"]["32,32"]
    summed += 4 * s["block_separable"]["32,32"] + s["up1"]["32,16"] + s["up2"]["16,4"] + s["head"]["4,3"]
    assert table.stage_sum(config, n_blocks=6) == pytest.approx(summed, rel=1e-12)
    assert table.predict(config, n_blocks=6) == pytest.approx(0.25 + 1.5 * summed, rel=1e-12)
    fewer = SPACE.decode("4_8_8_4x1_8x2_8x2_8_4")
    assert table.stage_sum(fewer, 6) == pytest.approx(
        summed - 2 * s["block_dense"]["32,32"] + s["block_separable"]["32,16"], rel=1e-12
    )
    # a plain 8-entry configuration: separable blocks, whole groups (9 blocks: 3 per group)
    plain = s["stem"]["3,8"] + s["down1"]["8,16"] + s["down2"]["16,32"] + 9 * s["block_separable"]["32,32"]
    plain += s["up1"]["32,16"] + s["up2"]["16,8"] + s["head"]["8,3"]
    assert table.predict((8,) * 8) == pytest.approx(0.25 + 1.5 * plain, rel=1e-12)
    cost = table.predictor(6)
    assert cost(config) == table.predict(config, 6) and cost(config) == cost(list(config))
    with pytest.raises(LatencyTableError, match="has no block_separable entry for channels 32,64"):
        table.predict((8, 8, 8, 16, 8, 8, 8, 8))


def test_the_constant_and_scale_are_fitted_on_relative_error():
    summed = [9.0, 30.0, 60.0, 150.0]
    exact = [{"stage_sum_ms": s, "measured_ms": 2.0 + 1.1 * s} for s in summed]
    constant, scale = fit_calibration(exact)
    assert constant == pytest.approx(2.0, rel=1e-9) and scale == pytest.approx(1.1, rel=1e-9)
    assert fit_calibration(exact[:1]) == (pytest.approx(2.0 + 0.1 * 9.0), 1.0)  # one model: a constant only
    # relative error: a 10 % miss on the largest model moves the fit less than a 10 % miss on the smallest
    big = fit_calibration([*exact[:3], {"stage_sum_ms": 150.0, "measured_ms": 1.1 * (2.0 + 1.1 * 150.0)}])
    small = fit_calibration([{"stage_sum_ms": 9.0, "measured_ms": 1.1 * (2.0 + 1.1 * 9.0)}, *exact[1:]])
    table = LatencyTable({}, 1, 1, 3, 3, {})
    error_at_9 = [abs(c + k * 9.0 - (2.0 + 1.1 * 9.0)) for c, k in (big, small)]
    assert error_at_9[0] < error_at_9[1] and table.scale == 1.0


def test_a_table_that_does_not_fit_the_search_is_refused_with_what_is_missing():
    table = synthetic()
    table.check(SPACE, 32, 32, n_blocks=6)
    with pytest.raises(LatencyTableError, match="measured at 32x32; the search runs at 64x32 .*--size 64 --width 32"):
        table.check(SPACE, 64, 32, 6)
    no_dense = synthetic(SearchSpace("sep", "resnet", SPACE.choices[:8]))
    with pytest.raises(LatencyTableError, match="has no block_dense entry for channels 32,16 .*it has no such stage"):
        no_dense.check(SPACE, 32, 32, 6)
    wider = SearchSpace("wider", "resnet", [[16, 8]] + [[8]] * 7)
    with pytest.raises(LatencyTableError, match="has no stem entry for channels 3,16 \\(needed by space 'wider'\\)"):
        table.check(wider, 32, 32, 6)
    with pytest.raises(LatencyTableError, match="is of the spade family"):
        table.check(get_space("channels-48", "spade"), 32, 32)
    with pytest.raises(ValueError, match="asks for \\[2, 2, 2\\] blocks per group; with n_blocks=3"):
        table.check(SPACE, 32, 32, n_blocks=3)


def test_a_malformed_table_file_names_the_key_that_is_wrong(tmp_path):
    good = synthetic().to_dict()
    path = tmp_path / "table.json"
    path.write_text(json.dumps(good))
    assert LatencyTable.load(str(path)).stages == good["stages"]

    def broken(edit):
        data = copy.deepcopy(good)
        edit(data)
        return data

    cases = [
        (lambda d: d.update(version=2), "key 'version' is 2; this tfgancomp reads version 1"),
        (lambda d: d.update(family="spade"), "key 'family' is 'spade'"),
        (lambda d: d["target"].pop("threads"), "key 'target.threads' is missing"),
        (lambda d: d.update(size=[32]), "key 'size' must be \\[height, width\\]"),
        (lambda d: d.update(constant_ms="fast"), "key 'constant_ms' must be a number"),
        (lambda d: d["stages"].update(block_wide={"1,1": 1.0}), "key 'stages.block_wide' is not a stage"),
        (lambda d: d["stages"]["down1"].update({"16": 1.0}), "key 'stages.down1.16' is not 'c_in,c_out'"),
        (lambda d: d["stages"]["head"].update({"8,3": -1.0}), "key 'stages.head.8,3' must be a positive latency"),
        (lambda d: d["stages"].pop("up2"), "key 'stages.up2' is missing"),
        (lambda d: d.update(input_nc=0), "key 'input_nc' must be a positive integer"),
        (lambda d: d.update(scale=0), "key 'scale' must be a positive number"),
    ]
    for edit, message in cases:
        path.write_text(json.dumps(broken(edit)))
        with pytest.raises(LatencyTableError, match=f"latency table {path}: {message}"):
            LatencyTable.load(str(path))
    path.write_text('{"version": 1, ')
    with pytest.raises(LatencyTableError, match="is not valid JSON"):
        LatencyTable.load(str(path))
    with pytest.raises(LatencyTableError, match="does not exist"):
        LatencyTable.load(str(tmp_path / "none.json"))


def test_the_shipped_host_table_loads_and_fits_the_reference_spaces():
    paths = shipped_tables()
    assert paths, "the package ships at least one host-CPU latency table"
    for path in paths:
        table = LatencyTable.load(path)
        assert table.target["kind"] == "host" and table.target["precision"] == "float32"
        for name in ("blocks-64-pix2pix", "channels-64-pix2pix", "channels-64-cycleGAN", "channels-48", "channels-32"):
            table.check(get_space(name), table.height, table.width, 9)
        assert len(table.calibration) >= 3 and set(table.stages) == set(RESNET_STAGES)
        assert find_table(table.height, table.width).stages == table.stages
    with pytest.raises(LatencyTableError, match="no shipped latency table is measured at 36x36"):
        find_table(36, 36)


def test_build_on_the_host_covers_the_space_and_fits_its_constant(tmp_path):
    out = str(tmp_path / "host.json")
    settings = LatencyTableSettings(size=32, space=SPACE.to_dict() and _space_file(tmp_path, SPACE), n_blocks=6,
                                    num_runs=3, warmup_runs=1, calibration=3)  # fmt: skip
    table = build_latency_table(settings, out)
    loaded = LatencyTable.load(out)
    assert loaded.to_dict() == table.to_dict()
    for stage, pairs in stage_pairs(SPACE).items():
        assert {f"{a},{b}" for a, b in pairs} == set(loaded.stages[stage])
    assert all(ms > 0 for entries in loaded.stages.values() for ms in entries.values())
    assert loaded.target["kind"] == "host" and loaded.target["threads"] == 2 and "XNNPACK" in loaded.target["runtime"]
    assert (loaded.constant_ms, loaded.scale) == pytest.approx(fit_calibration(loaded.calibration))
    for c in loaded.calibration:  # the sums are the table's own
        assert c["stage_sum_ms"] == pytest.approx(loaded.stage_sum(SPACE.decode(c["config"]), 6))
    assert [c["config"] for c in loaded.calibration[:2]] == [SPACE.encode(SPACE.largest()),
                                                           SPACE.encode(SPACE.smallest())]  # fmt: skip
    assert loaded.settings["space"] == SPACE.to_dict() and loaded.settings["models"] == 14 + 3


def _space_file(tmp_path, space) -> str:
    path = tmp_path / f"{space.name}.json"
    path.write_text(json.dumps(space.to_dict()))
    return str(path)


# ---------------------------------------------------------------- stand-in adb and ssh


def test_build_on_android_over_a_stand_in_adb_records_what_benchmark_model_printed(stand_ins, tmp_path):
    # The "phone" keeps /data/local/tmp in a folder here. Its benchmark_model prints benchmark_model's lines with a
    # median of (model file size / 1000) µs, so each entry of the table must be that of its own stage's model.
    device = tmp_path / "device"
    (device / "data/local/tmp").mkdir(parents=True)
    phone_adb(stand_ins, device, "PIXEL7")
    stand_in(stand_ins, "benchmark_model_impl", """
        graph = next(a.split("=", 1)[1] for a in argv if a.startswith("--graph="))
        us = os.path.getsize(graph) / 1000
        stats = f"min={us} max={us} avg={us} std=0 p5={us} median={us} p95={us}"
        print(f"INFO: Num threads: [4]\\nINFO: Graph: [{graph}]\\nINFO: Initialized session in 1.0ms.")
        print(f"INFO: count=1 first={us} curr={us} {stats}\\nINFO: count=5 first={us} curr={us} {stats}")
        print(f"INFO: Inference timings in us: Init: 1000, First inference: {us}, Warmup (avg): {us}, "
              f"Inference (avg): {us}")
        """)  # fmt: skip
    binary = tmp_path / "benchmark_model"
    binary.write_text(f'#!/bin/sh\nexec {stand_ins / "benchmark_model_impl"} "$@"\n')
    out = str(tmp_path / "android.json")
    argv = ["latency-table", "--target", "android", "--binary", str(binary), "--serial", "PIXEL7", "--size", "32",
            "--space", _space_file(tmp_path, ONE), "--n-blocks", "3", "--num-threads", "4", "--num-runs", "5",
            "--calibration", "2", "--device", "Pixel 7 (Tensor G2)", "--out", out, "--quiet"]  # fmt: skip
    assert main(argv) == 0
    table = LatencyTable.load(out)
    assert table.target == {"kind": "android", "device": "Pixel 7 (Tensor G2)", "runtime": "benchmark_model (android)",
                            "gpu": False, "threads": 4, "precision": "float32"}  # fmt: skip
    pushed = {p.name: p.stat().st_size for p in (device / "data/local/tmp").iterdir()}
    assert pushed.pop("benchmark_model") > 0
    for stage, entries in table.stages.items():
        for key, ms in entries.items():
            name = f"{stage}_{key.replace(',', '_')}-"
            sizes = [size for file, size in pushed.items() if file.startswith(name)]
            assert len(sizes) == 1 and ms == pytest.approx(sizes[0] / 1000 / 1000), (stage, key)
    adb = [c["argv"] for c in calls(stand_ins) if c["tool"] == "adb"]
    assert adb[0][2:] == ["push", str(binary), "/data/local/tmp/benchmark_model"]  # the binary: pushed once
    assert sum(a[2] == "push" for a in adb) == 1 + 8 + 2 and sum(a[2] == "shell" for a in adb) == 1 + 8 + 2


def test_build_on_a_jetson_over_a_stand_in_ssh_with_the_litert_runner(stand_ins, tmp_path):
    ssh_that_runs_locally(stand_ins, "nvidia@jetson")
    out = str(tmp_path / "jetson.json")
    settings = LatencyTableSettings(target="jetson", host="nvidia@jetson", size=32, space=_space_file(tmp_path, ONE),
                                    n_blocks=3, num_runs=3, warmup_runs=1, calibration=2,
                                    remote_dir=str(tmp_path / "board"), remote_python=sys.executable)  # fmt: skip
    table = build_latency_table(settings, out)
    assert table.target["kind"] == "jetson" and table.target["device"] == "jetson nvidia@jetson"
    assert table.target["runtime"] == "LiteRT Python runner (jetson)"
    assert sum(len(v) for v in table.stages.values()) == 8 and len(table.calibration) == 2
    assert all(ms > 0 for entries in table.stages.values() for ms in entries.values())
    assert len(calls(stand_ins)) == 2 * (8 + 2)  # each model copied once and run once


def test_bad_settings_and_unreachable_targets_are_one_line_errors(stand_ins, tmp_path, capsys):
    for argv, message in [
        (["--target", "android"], "needs the path of a benchmark_model binary"),
        (["--target", "jetson"], "needs --host user@address"),
        (["--size", "30"], "must be a multiple of 4"),
        (["--precision", "int8"], "precision must be one of 'float32', 'float16'"),
        (["--space", "channels-64", "--size", "32"], "unknown resnet search space 'channels-64'"),
    ]:
        out = tmp_path / "t.json"
        assert main(["latency-table", *argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    stand_in(stand_ins, "ssh", "print('ssh: connect to host jetson port 22: No route to host', file=sys.stderr)\n"
                                "sys.exit(255)\n")  # fmt: skip
    out = tmp_path / "j.json"
    argv = ["latency-table", "--target", "jetson", "--host", "nvidia@jetson", "--size", "32", "--space",
            _space_file(tmp_path, ONE), "--n-blocks", "3", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "No route to host" in err and len(err.strip().splitlines()) == 1 and not out.exists()
