"""The compiled part of the tracer: `scantrace_tracer._contacts` (Cython, see its docstring)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [
            Extension(
                "scantrace_tracer._contacts",
                ["src/scantrace_tracer/_contacts.pyx"],
                extra_compile_args=["-O2"],
            )
        ],
        compiler_directives={"language_level": "3"},
    )
)
