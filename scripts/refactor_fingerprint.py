"""What a restructuring must not move (issue 25), as one JSON file to diff between two commits on one machine.

    python scripts/refactor_fingerprint.py OUT.json [--train]

- ``cache_keys``: the run folder (variant, profile, seed, config digest) of every label of every profile
  at seeds 0-5: every training cache key.
- with ``--train``: the ``cpu`` profile's EM, IC and MoTE (seed 0) trained afresh into a temporary
  ``MOTE_RUNS``, with every logged loss and the sha256 of the final ``model.safetensors`` (bit for bit).

Run it in a worktree of each commit with the same thread count (2) and compare the files with ``diff``.
What is regenerated from committed results is checked by ``make reference-tables`` and ``git diff``.
"""

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path


def main(out: str, train: bool) -> None:
    import torch

    torch.set_num_threads(2)
    from mote_lib.lab.experiments import all_models, train_config
    from mote_lib.lab.runs import run_dir
    from mote_lib.profiles import PROFILES

    keys = {}
    for profile in sorted(PROFILES):
        labels = sorted(set(all_models(profile)) | {"mote-eb", "mote-tlr", "mote-no-tacl", "ic-retrieval-only", "ic-lr1e-5"})
        for label in labels:
            for seed in range(6):
                try:
                    keys[f"{profile}/{label}/s{seed}"] = run_dir(train_config(label, profile, seed)).name
                except Exception as err:  # a label a profile does not define
                    keys[f"{profile}/{label}/s{seed}"] = f"error: {type(err).__name__}"
    record = {"cache_keys": keys}
    if train:
        from mote_lib.lab.runs import trained_model

        with tempfile.TemporaryDirectory() as tmp:
            os.environ["MOTE_RUNS"] = tmp
            for label in ("em", "ic", "mote"):
                folder = trained_model(train_config(label, "cpu", 0), show_progress=False)
                log = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]
                record[f"cpu/{label}"] = {
                    "folder": folder.name,
                    "losses": [{k: v for k, v in row.items() if "loss" in k or k == "step"} for row in log],
                    "safetensors_sha256": hashlib.sha256((folder / "model" / "model.safetensors").read_bytes()).hexdigest(),
                }
    Path(out).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}: {len(keys)} cache keys" + (", cpu em/ic/mote trained" if train else ""))


if __name__ == "__main__":
    main(sys.argv[1], "--train" in sys.argv[2:])
