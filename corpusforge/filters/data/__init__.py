"""Word lists used by the quality filters, written for this project (Apache-2.0).

They are Python modules rather than text files so that they travel inside the package (and the
packed virtualenv that Spark executors use) without any package-data configuration.
"""
