"""Hyperparameter search over the fine-tuning config (grid or random), chosen on validation (see --help).

    python jobs/sweep.py --sweep configs/sweep_finsent.toml --set model.path=MODEL --set data.table=OUT/tokens
    python jobs/sweep.py --sweep sweep.toml --parallel 2          # two trials at a time, one process each

Run again to resume: finished trials are skipped (keyed by a hash of their config). The logic
is corpusforge.train.sweep; each trial is a jobs/finetune.py run in OUT/trials/<trial_id>.
"""
import sys

from corpusforge.train.sweep import main

if __name__ == "__main__":
    sys.exit(main())
