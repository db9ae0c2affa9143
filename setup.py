"""Build of fxsim: the Cython kernels in cysrc/ compile into the fxsim package."""
import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

openmp = [] if sys.platform == "darwin" else ["-fopenmp"]
native = ["-march=native"] if os.environ.get("FXSIM_NATIVE", "1") == "1" and sys.platform != "darwin" else []
# gcc tunes for Zen 1 (-march=znver1 on these EPYCs) with 128-bit vectors; the element-wise
# kernels and the MAC lanes run about twice as fast in 256-bit AVX2 registers
wide = ["-mprefer-vector-width=256"] if native else []
# no -ffast-math: NaN tests and exact float steps must keep IEEE semantics; without traps and
# errno, gcc vectorizes floor and the double->int conversions
float_ok = ["-fno-trapping-math", "-fno-math-errno"]
# Cython's memoryview machinery goes once into fxsim._cyutility instead of into every module
# (about 0.8 MB of C each); -g0: no debug info (Python's CFLAGS ask for -g). A shorter first build
SHARED = "fxsim._cyutility"


def ext(name, flags=(), omp=False):
    return Extension(
        f"fxsim.{name}", [f"cysrc/{name}.pyx"],
        include_dirs=[np.get_include(), "cysrc"],
        extra_compile_args=["-O3", "-g0", *flags, *native, *(openmp if omp else [])],
        extra_link_args=openmp if omp else [],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    )


extensions = [
    # listed longest-first after the shared module, so that the two compile lanes finish together
    Extension(SHARED, sources=["fxsim/_cyutility.c"], extra_compile_args=["-g0"]),
    ext("_kernels", [*float_ok, *wide], omp=True),
    ext("_mac", [*float_ok, *wide], omp=True),
    # -ffp-contract=off: the samplers' float updates must round exactly as numpy's (no FMA)
    ext("_samplers", [*float_ok, "-ffp-contract=off"], omp=True),
    ext("_sources"),
    ext("_vendor"),
    ext("_floats", [*float_ok, *wide], omp=True),
    ext("_small", float_ok),   # the compiled small-call cast (fxsim.ops.cast, Caster)
    ext("_unfolded"),          # the unfolded networks' fused layers (fxsim.models.unfolded)
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["cysrc", "."],   # "." for fxsim/_kernels.pxd (the mode codes)
        compiler_directives={"language_level": "3"},
        nthreads=2,
        shared_utility_qualified_name=SHARED,
    ),
    options={"build_ext": {"parallel": 2}},   # the extensions compile two at a time
)
