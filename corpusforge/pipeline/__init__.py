"""The pipeline: `run.py` (plan, run, accounting, commit as named steps), `registry.py` (stage
and output names → factories) and `cli.py` (the command line of `jobs/build_corpus.py`;
`python -m corpusforge` runs it too).
"""
