"""kharden's one C extension, ``kharden._yamlc``: YAML documents built straight from libyaml's events.

Everything else is in pyproject.toml. The extension is optional: where it cannot be compiled (no C
compiler, no libyaml headers: Debian's libyaml-dev), kharden reads YAML through PyYAML alone, about
three times slower, with the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("kharden._yamlc", sources=["src/kharden/_yamlc.c"], libraries=["yaml"], optional=True),
    ]
)
