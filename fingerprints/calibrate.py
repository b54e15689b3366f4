"""Regenerate the null distribution behind the p-values: ``python -m fingerprints.calibrate [--quick]``.

Independent models of one architecture — different initialisation seeds, trained on the same synthetic language,
on different languages, or not trained at all, and students distilled from the first one (own initialisation,
trained only to imitate its outputs) — are compared pairwise, for each model size in ``SIZES``. For every
pair it records the fingerprint-mode score and the per-layer neuron-matching z statistics of the deep test, then
writes ``fingerprints/calibration.json`` (read by :mod:`fingerprints.calibration`) and prints a table.

What is checked: under independence the neuron z (Spearman ρ·√(n−1) between gate- and up-based matchings) should
be N(0, 1); its observed spread sets the inflation factor κ. The fingerprint score has no closed-form null, so its
mean, sd and maximum over the null pairs are stored; fingerprint-mode p-values are normal tails relative to them
(with a floor on the sd and the mean raised towards the largest null score seen).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np

from fingerprints.calibration import CALIBRATION_FILE, DEFAULTS
from fingerprints.compare import compare_fingerprints
from fingerprints.deep import deep_compare
from fingerprints.distill import distill
from fingerprints.fingerprint import compute_fingerprint
from fingerprints.toymodels import ToyConfig, train

SIZES = {
    "h64": ToyConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4),
    "h128": ToyConfig(
        hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4
    ),
}
# (init seed, data seed, training steps); steps 0 = untrained
QUICK = [(101, 0, 150), (102, 0, 150), (103, 1, 150), (104, 0, 0), (105, 0, 0)]
FULL = QUICK + [(106, 1, 150), (107, 2, 300), (108, 2, 300), (109, 0, 0)]
STUDENTS = [(201, 300), (202, 300)]  # (init seed, distillation steps) of students of the first model


def null_pairs(models: list[tuple[str, dict]], arch: dict) -> tuple[list[float], list[float], list[dict], list[float]]:
    scores, zs, rows, fzs = [], [], [], []
    fps = [compute_fingerprint(sd, arch) for _, sd in models]
    for (i, (na, a)), (j, (nb, b)) in itertools.combinations(enumerate(models), 2):
        fp = compare_fingerprints(fps[i], fps[j])
        res = deep_compare(a, arch, b, arch, ref_fingerprint=fps[i], sus_fingerprint=fps[j])
        z = [e["neuron_rho"] * np.sqrt(e["neurons_tested"] - 1) for e in res["layers"] if "neuron_rho" in e]
        fz = [e["rho"] * np.sqrt(e["n"] - 1) for e in (fp["neurons"] or {}).get("layers", [])]
        scores.append(fp["score"])
        zs.extend(z)
        fzs.extend(fz)
        rows.append(
            {
                "pair": f"{na} vs {nb}",
                "fp_score": round(fp["score"], 4),
                "deep_log10_p": round(res["log10_p"], 2),
                "max_z": round(float(np.max(np.abs(z))), 2),
                "fp_log10_p": round(fp["log10_p"], 2),
            }
        )
    return scores, zs, rows, fzs


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer models (about a minute)")
    ap.add_argument("--output", default=str(CALIBRATION_FILE))
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    all_scores, all_z, all_fz, per_size = [], [], [], {}
    t0 = time.time()
    for size, cfg in SIZES.items():
        models = [(f"{size}/seed{s}/data{d}/steps{n}", train(cfg, s, d, n)) for s, d, n in plan]
        # Distilled students of the first trained model: same behaviour, own weights — independent in lineage.
        teacher = models[0][1]
        models += [
            (f"{size}/student{s}/steps{n}", distill(cfg, teacher, s, n, lr=1e-2, n_samples=64))
            for s, n in (STUDENTS if not args.quick else STUDENTS[:1])
        ]
        scores, zs, rows, fzs = null_pairs(models, cfg.arch())
        for r in rows:
            print(
                f"{r['pair']:58s} fp score {r['fp_score']:7.4f}  deep log10 p {r['deep_log10_p']:7.2f}  "
                f"fp log10 p {r['fp_log10_p']:7.2f}  max |z| {r['max_z']:.2f}"
            )
        per_size[size] = {
            "fp_score_mean": float(np.mean(scores)),
            "fp_score_sd": float(np.std(scores)),
            "fp_score_max": float(np.max(scores)),
            "neuron_z_sd": float(np.std(zs)),
            "pairs": len(rows),
            "hidden_size": cfg.hidden_size,
            "fp_neuron_z_sd": float(np.std(fzs)) if fzs else None,
            "fp_log10_p_min": float(min(r["fp_log10_p"] for r in rows)),
        }
        all_scores += scores
        all_z += zs
        all_fz += fzs
    out = dict(DEFAULTS)
    out.update(
        {
            "fp_score_mean": round(float(np.mean(all_scores)), 4),
            "fp_score_sd": round(float(np.std(all_scores)), 4),
            "fp_score_max_null": round(float(np.max(all_scores)), 4),
            "neuron_z_sd": round(float(np.std(all_z)), 4),
            "neuron_z_mean": round(float(np.mean(all_z)), 4),
            "fp_neuron_z_sd": round(float(np.std(all_fz)), 4),
            "fp_neuron_z_mean": round(float(np.mean(all_fz)), 4),
            "n_fp_neuron_z": len(all_fz),
            "n_null_pairs": sum(v["pairs"] for v in per_size.values()),
            "n_neuron_z": len(all_z),
            "by_size": {
                k: {kk: round(vv, 4) if isinstance(vv, float) else vv for kk, vv in v.items()}
                for k, v in per_size.items()
            },
            "models": [{"init_seed": s, "data_seed": d, "steps": n} for s, d, n in plan],
            "students": [{"init_seed": s, "steps": n, "teacher": "first model"} for s, n in STUDENTS],
        }
    )
    with open(args.output, "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps({k: v for k, v in out.items() if k not in ("models",)}, indent=2, sort_keys=True))
    print(f"calibration written to {args.output} in {time.time() - t0:.0f} s")
    return out


if __name__ == "__main__":
    main()
