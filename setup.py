"""Build the compiled kernels (dedup/_kernels.pyx); metadata is in pyproject.toml.

Cython (well kept, compiles at install time with the machine's C++ compiler)
was chosen over numba: numba's runtime alone (LLVM) costs ~200 MB of resident
memory and ~1 s of start-up, more than the whole scan of 50k documents needs.
``-march=native`` lets the MinHash loop use the host's widest integer SIMD;
set DEDUP_PORTABLE=1 when building a package for other machines.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

compile_args = ["-O3", "-fopenmp"]
if not os.environ.get("DEDUP_PORTABLE"):
    compile_args.append("-march=native")

extension = Extension(
    "dedup._kernels",
    ["dedup/_kernels.pyx"],
    language="c++",
    extra_compile_args=compile_args,
    extra_link_args=["-fopenmp"],
)

setup(ext_modules=cythonize([extension], compiler_directives={"language_level": 3}))
