"""Only what setup.cfg cannot say: the wheel carries a copy of the top-level `schemas/` folder.

`schemas/` stays the one source (DESIGN.md names it); the build copies its JSON files into
`corpusforge/schema_files/`, where `corpusforge.schemas` finds them in an installed package.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).resolve().parent / "schemas"


class BuildPyWithSchemas(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "corpusforge" / "schema_files"
        target.mkdir(parents=True, exist_ok=True)
        for schema in sorted(SOURCE.glob("*.json")):
            shutil.copyfile(schema, target / schema.name)


setup(cmdclass={"build_py": BuildPyWithSchemas})
