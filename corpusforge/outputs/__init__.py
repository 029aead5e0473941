"""Tables written from a run's kept documents, after `documents` and `dropped`: `exact_index`,
`minhash_index`, `tokens` and `packed`. The pipeline finds them by name through
`corpusforge.pipeline.registry` (`pipeline.outputs`); each writes its rows by run_id.
"""
