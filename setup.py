"""Build of fxsim: the Cython kernels in cysrc/ compile into the fxsim package."""
import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

openmp = [] if sys.platform == "darwin" else ["-fopenmp"]
native = ["-march=native"] if os.environ.get("FXSIM_NATIVE", "1") == "1" and sys.platform != "darwin" else []
# gcc tunes for Zen 1 (-march=znver1 on these EPYCs) with 128-bit vectors; the element-wise
# kernels run about twice as fast in 256-bit AVX2 registers
wide = ["-mprefer-vector-width=256"] if native else []
extensions = [
    Extension(
        "fxsim._kernels",
        ["cysrc/_kernels.pyx"],
        include_dirs=[np.get_include(), "cysrc"],
        # no -ffast-math: NaN tests and exact float steps must keep IEEE semantics; without traps
        # and errno, gcc vectorizes floor and double->int64 conversions.
        extra_compile_args=["-O3", "-fno-trapping-math", "-fno-math-errno", *native, *wide, *openmp],
        extra_link_args=openmp,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    ),
    Extension(
        "fxsim._mac",
        ["cysrc/_mac.pyx"],
        include_dirs=[np.get_include(), "cysrc"],
        # 256-bit vectors: -march=native on AMD Zen prefers 128-bit ones, half the MAC lanes
        extra_compile_args=["-O3", "-fno-trapping-math", "-fno-math-errno", *native,
                            *(["-mprefer-vector-width=256"] if native else []), *openmp],
        extra_link_args=openmp,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    ),
    Extension(
        "fxsim._sources",
        ["cysrc/_sources.pyx"],
        include_dirs=[np.get_include(), "cysrc"],
        extra_compile_args=["-O3", *native],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    ),
    Extension(
        "fxsim._samplers",
        ["cysrc/_samplers.pyx"],
        include_dirs=[np.get_include(), "cysrc"],
        # -ffp-contract=off: the samplers' float updates must round exactly as numpy's (no FMA)
        extra_compile_args=["-O3", "-fno-trapping-math", "-fno-math-errno", "-ffp-contract=off",
                            *native, *openmp],
        extra_link_args=openmp,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["cysrc", "."],   # "." for fxsim/_kernels.pxd (the mode codes)
        compiler_directives={"language_level": "3"},
        nthreads=2,
    ),
    options={"build_ext": {"parallel": 2}},   # the extensions compile two at a time
)
