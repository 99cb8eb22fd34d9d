"""The report of a compress run: ``report.json``, ``report.md`` and a self-contained ``report.html``.

Every figure is measured here or read from the files the stages wrote: the exported bundles run on the held-out
images (PSNR / SSIM to truth as the mean of per-image scores, PSNR to the teacher's bundle), their ``model.json``
(MACs, params, GPU-delegate verdict), ``benchmark.json`` (host CPU latency, each compressed model run alternately
with the teacher), the search's trials and each stage's ``history.json``. Plots with matplotlib (Agg).
"""

from __future__ import annotations

import base64
import html
import os

import numpy as np

from tfgancomp.pipeline.rundir import read_json, read_run, show_inputs, write_json

#: Held-out images scored in the report (the first ones of the test split, in file order).
MAX_IMAGES = 100
GRID_ROWS = 4


def _held_out(teacher_dir: str, data: str, task: str):
    """``(inputs, truth or None)`` of the held-out split, at most :data:`MAX_IMAGES`."""
    from tfgancomp.pipeline.export import reader_settings
    from tfgancomp.pipeline.teacher import held_out_reader

    model, run, _ = read_run(teacher_dir)
    reader = held_out_reader(reader_settings(model, run, data, task))
    if reader is None:
        return None, None
    xs, ts = [], []
    for x, t in reader.dataset:
        xs.append(x.numpy())
        ts.append(t.numpy())
        if sum(len(a) for a in xs) >= MAX_IMAGES:
            break
    return np.concatenate(xs)[:MAX_IMAGES], np.concatenate(ts)[:MAX_IMAGES]


def _mean(scores) -> float:
    return float(np.mean(np.asarray(scores, np.float64)))


def measure(out_dir: str) -> dict:
    """The report's figures (``report.json``'s content), from the compress folder's files and its bundles."""
    from mobile_export import metadata, run_batch
    from tfgancomp.metrics.quality import psnr, ssim

    settings = read_json(os.path.join(out_dir, "settings.json"))
    plan = read_json(os.path.join(out_dir, "plan.json"))
    stages = read_json(os.path.join(out_dir, "stages.json"))
    bench = read_json(os.path.join(out_dir, "benchmark.json")) or {}
    bundles = stages["export"]["bundles"]
    teacher_dir = stages["teacher"]["run"]
    inputs, truth = _held_out(teacher_dir, settings["data"], plan["task"])
    outputs, rows = {}, {}
    for name, folder in bundles.items():
        path = os.path.join(folder, "model.tflite")
        description = metadata.read(path)
        model = description["model"]
        row = {"bundle": folder, "precision": description.get("precision"), "class": model["class"],
               "config": model.get("config"), "macs": model["macs"], "params": model["params"],
               "file_bytes": os.path.getsize(path), "gpu_delegate": description["gpu_delegate"]["compatible"],
               "unsupported_ops": description["gpu_delegate"]["unsupported_ops"]}  # fmt: skip
        if inputs is not None:
            outputs[name] = run_batch(path, inputs)
            if truth is not None:
                row["psnr"] = _mean(psnr(outputs[name], truth))
                row["ssim"] = _mean(ssim(outputs[name], truth))
        rows[name] = row
    teacher = rows["teacher_float16"]
    for name, row in rows.items():
        row["macs_ratio"] = teacher["macs"] / row["macs"]
        if name in outputs and name != "teacher_float16":
            row["psnr_to_teacher"] = _mean(psnr(outputs[name], outputs["teacher_float16"]))
        if name in bench:
            row["median_ms"] = bench[name]["model"]["median_ms"]
            row["teacher_median_ms"] = bench[name]["vs"]["median_ms"]
            row["speedup"] = bench[name]["speedup"]["median"]
    if bench:
        first = next(iter(bench.values()))
        teacher["median_ms"] = first["vs"]["median_ms"]
    for name, row in rows.items():
        if name != "teacher_float16" and "psnr" in row and "psnr" in teacher:
            row["psnr_change_db"] = row["psnr"] - teacher["psnr"]
    search = read_json(os.path.join(stages["search"]["run"], "results.json")) or {}
    objective = (read_json(os.path.join(stages["search"]["run"], "settings.json")) or {}).get("objective")
    order = ["teacher_float16", *settings["precisions"]]
    from tfgancomp.pipeline.compress import STAGES

    return {"settings": settings, "plan": plan, "held_out_images": 0 if inputs is None else len(inputs),
            "models": {name: rows[name] for name in order if name in rows}, "objective": objective,
            "chosen": {k: stages["search"].get(k) for k in ("config", "macs", "score", "predicted_ms")},
            "search": search.get("trials", []),
            "stage_seconds": {k: stages[k]["seconds"] for k in STAGES if k in stages},
            "stage_runs": {k: v["run"] for k, v in stages.items() if "run" in v},
            "_outputs": outputs, "_inputs": inputs, "_truth": truth}  # fmt: skip


# ------------------------------------------------------------------------------------------------ figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _to_unit(images) -> np.ndarray:
    return np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def examples_figure(figures: dict, task: str, path: str) -> str | None:
    """Held-out examples, one per row: input | teacher | each compressed bundle | truth, with column labels."""
    inputs = figures["_inputs"]
    if inputs is None:
        return None
    plt = _pyplot()
    columns = [("input", show_inputs(inputs[:GRID_ROWS], task))]
    outputs = figures["_outputs"]
    columns += [("teacher" if n == "teacher_float16" else f"compressed {n}", outputs[n][:GRID_ROWS])
                for n in figures["models"] if n in outputs]  # the table's order: teacher first  # fmt: skip
    if figures["_truth"] is not None:
        columns.append(("truth", figures["_truth"][:GRID_ROWS]))
    rows = min(GRID_ROWS, len(inputs))
    fig, axes = plt.subplots(rows, len(columns), figsize=(2.0 * len(columns), 2.0 * rows), squeeze=False)
    for j, (label, images) in enumerate(columns):
        for i in range(rows):
            ax = axes[i][j]
            ax.imshow(_to_unit(images[i]))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(label, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def search_figure(figures: dict, path: str) -> str | None:
    """The search's trials: MACs (or, under a latency budget, predicted ms) vs score.

    The budget is a vertical line, the chosen configuration labelled.
    """
    trials = figures["search"]
    if not trials:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    plan, chosen = figures["plan"], figures["chosen"]
    size = f"{plan['teacher']['height']}×{plan['teacher']['width']}"
    if plan.get("budget_ms") is not None:
        key, budget, scale, unit, kind = "predicted_ms", plan["budget_ms"], 1.0, "ms", "latency"
        label = f"predicted latency at {size} (ms, {plan['latency_table']['target']['device']})"
    else:
        key, budget, kind = "macs", plan["budget_macs"], "MACs"
        scale, unit = (1e9, "G") if budget >= 1e8 else (1e6, "M")
        label = f"MACs at the training size ({unit}, {size})"
    x = np.array([t[key] for t in trials]) / scale
    score = np.array([t["score"] for t in trials])
    ax.scatter(x, score, s=12, alpha=0.6, label=f"trials ({len(trials)})")
    ax.axvline(budget / scale, color="gray", linestyle="--", label=f"budget {budget / scale:.4g} {unit}")
    ax.scatter([chosen[key] / scale], [chosen["score"]], color="red", s=40, zorder=3,
               label=f"chosen {chosen['config']}")  # fmt: skip
    ax.margins(x=0.08, y=0.12)
    ax.set_xlabel(label)
    names = {"psnr": "PSNR to truth (dB)", "psnr_to_teacher": "PSNR to the teacher (dB)", "fid": "FID", "kid": "KID"}
    objective = figures.get("objective") or "psnr"
    ax.set_ylabel(f"{names.get(objective, objective)}, shared weights")
    ax.set_title(f"search under the {kind} budget")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def curves_figure(figures: dict, out_dir: str, path: str) -> str | None:
    """Generator and discriminator loss per epoch of each training stage (its ``history.json``).

    A stage that scored the held-out split during training (``eval_every``) also shows its PSNR to truth, on a
    second axis: the learning curve.
    """
    runs = {**figures["stage_runs"], "qat": os.path.join(out_dir, "qat_run")}
    stages = [(name, read_json(os.path.join(runs[name], "history.json")))
              for name in ("teacher", "supernet", "finetune", "qat") if name in runs]  # fmt: skip
    stages = [(n, h) for n, h in stages if h]
    if not stages:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(stages), figsize=(3.4 * len(stages), 3.0), squeeze=False)
    for ax, (name, history) in zip(axes[0], stages, strict=True):
        epochs = [h["epoch"] for h in history]
        for key in ("g_loss", "d_loss"):
            if key in history[0]:
                ax.plot(epochs, [h[key] for h in history], marker="o", label=key)
        ax.set_title(name)
        if len(epochs) < 3:  # MaxNLocator falls back to fractions when fewer than 2 whole numbers are in range
            ax.set_xticks(epochs)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        handles, labels = ax.get_legend_handles_labels()
        scored = [h for h in history if "held_out_psnr" in h]
        if scored:
            psnr = ax.twinx()
            psnr.plot([h["epoch"] for h in scored], [h["held_out_psnr"] for h in scored], color="tab:green",
                      marker="s", label="held-out PSNR")  # fmt: skip
            psnr.set_ylabel("PSNR to truth (dB)")
            more = psnr.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        ax.legend(handles, labels, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------------------ writing


def _fmt(value, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.{digits}f}{unit}"


def _count(value: float, what: str) -> str:
    """``14.21 G MACs``, ``1.96 M MACs``, ``514 k params``, ``1.25 MB``: three significant figures."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}{'' if what == 'B' else ' '}{what}"
    return f"{value:.0f} {what}"


def table_rows(figures: dict) -> list[list[str]]:
    """The headline table: one row per model (teacher first)."""
    header = ["model", "MACs", "params", "file", "host CPU median", "speedup", "MACs ÷", "PSNR to truth",
              "SSIM", "PSNR to teacher", "GPU delegate"]  # fmt: skip
    rows = [header]
    for name, r in figures["models"].items():
        label = "teacher (float16)" if name == "teacher_float16" else f"compressed {name}"
        rows.append([label, _count(r["macs"], "MACs"), _count(r["params"], "params"), _count(r["file_bytes"], "B"),
                     _fmt(r.get("median_ms"), " ms"), _fmt(r.get("speedup"), "×"),
                     _fmt(r["macs_ratio"], "×", 1), _fmt(r.get("psnr"), " dB"), _fmt(r.get("ssim"), "", 3),
                     _fmt(r.get("psnr_to_teacher"), " dB"), _fmt(r["gpu_delegate"])])  # fmt: skip
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _summary(figures: dict) -> list[str]:
    plan, chosen = figures["plan"], figures["chosen"]
    lines = [
        f"Teacher: {plan['teacher']['class']} (ngf {plan['teacher']['ngf']}), {_count(plan['teacher']['macs'], 'MACs')}"
        f" at {plan['teacher']['height']}×{plan['teacher']['width']}.",
        _budget_line(plan, chosen),
        f"Quality on {figures['held_out_images']} held-out images: mean of per-image PSNR / SSIM; PSNR to teacher "
        "against the teacher's float16 bundle. Latency: LiteRT on this host's CPU, each compressed model run "
        "alternately with the teacher; speedup is the median of the per-run latency ratios.",
        "Stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in figures["stage_seconds"].items()) + ".",
    ]
    return lines


def _budget_line(plan: dict, chosen: dict) -> str:
    space = f"search space {plan['space']['name']}; chosen configuration {chosen['config']}"
    if plan.get("budget_ms") is None:
        line = (f"Budget: {_count(plan['budget_macs'], 'MACs')} (1/{1 / plan['budget_ratio']:.1f} of the teacher); "
                f"{space} ({_count(chosen['macs'], 'MACs')}")  # fmt: skip
        ms = f", {chosen['predicted_ms']:.2f} ms predicted" if chosen.get("predicted_ms") is not None else ""
        return line + ms + ")."
    table = plan["latency_table"]
    teacher = plan.get("teacher_predicted_ms")
    of_teacher = f", 1/{teacher / plan['budget_ms']:.1f} of the teacher's {teacher:.2f} ms" if teacher else ""
    return (f"Budget: {plan['budget_ms']:.2f} ms predicted by the latency table of {table['target']['device']} "
            f"({table['target']['runtime']}, {table['target']['threads']} threads{of_teacher}); {space} "
            f"({chosen['predicted_ms']:.2f} ms predicted, {_count(chosen['macs'], 'MACs')}).")  # fmt: skip


def write_report(out_dir: str) -> dict:
    """Measure and write ``report.json``, ``report.md``, ``report.html`` (images inlined) and ``report/*.png``."""
    figures = measure(out_dir)
    folder = os.path.join(out_dir, "report")
    os.makedirs(folder, exist_ok=True)
    images = {
        "held-out examples": examples_figure(figures, figures["plan"]["task"], os.path.join(folder, "examples.png")),
        "search": search_figure(figures, os.path.join(folder, "search.png")),
        "training curves": curves_figure(figures, out_dir, os.path.join(folder, "curves.png")),
    }
    images = {k: v for k, v in images.items() if v}
    public = {k: v for k, v in figures.items() if not k.startswith("_")}
    write_json(os.path.join(out_dir, "report.json"), public)
    rows = table_rows(figures)
    md = ["# Compression report", "", *_summary(figures), "", markdown_table(rows), ""]
    md += [f"## {title}\n\n![{title}](report/{os.path.basename(p)})\n" for title, p in images.items()]
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(md))
    cells = "".join("<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c)}</{'th' if i == 0 else 'td'}>"
                                     for c in row) + "</tr>" for i, row in enumerate(rows))  # fmt: skip
    parts = [f"<p>{html.escape(line)}</p>" for line in _summary(figures)]
    for title, p in images.items():
        with open(p, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        alt = html.escape(title)
        parts.append(f'<h2>{alt}</h2><img alt="{alt}" src="data:image/png;base64,{data}">')
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>Compression report</title><style>"
            "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}"
            "td:first-child{text-align:left}img{max-width:100%}</style></head><body><h1>Compression report</h1>"
            + "".join(parts[:4]) + f"<table>{cells}</table>" + "".join(parts[4:]) + "</body></html>")  # fmt: skip
    with open(os.path.join(out_dir, "report.html"), "w") as f:
        f.write(page)
    return public
