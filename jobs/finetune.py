"""Fine-tune a model on a pinned version of a corpusforge Delta table (see --help).

    python jobs/finetune.py --config configs/train_finsent.toml
    python jobs/finetune.py --config train.toml --set optim.lr=3e-5 --set run.out_dir=out/try2
    python jobs/finetune.py --resume out/finetune                      # continue a run exactly
    torchrun --standalone --nproc_per_node=4 jobs/finetune.py --config train.toml   # DDP

The device is found (CUDA > TPU via torch_xla > CPU); the loop lives in
corpusforge.train.driver. Training is not a Spark job: run it with python or torchrun.
"""
import sys

from corpusforge.train.driver import main

if __name__ == "__main__":
    sys.exit(main())
