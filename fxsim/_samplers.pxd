# cython: language_level=3
from libc.stdint cimport int64_t
from fxsim._kernels cimport cspec

# What the samplers' kernel reads for one run (cysrc/_samplers.pyx), built once per run by
# SamplerParams from named values and checked there.

ctypedef struct sampler_params:
    int alg            # 0 SGLD, 1 SGHMC
    int variant        # 0 fp (affine gradients only), 1 lpf, 2 lpl, 3 vc
    int gkind          # 0 affine (a·θ + b per coordinate), 1 table indexed by the weight's word
    int fl             # fraction bits of the weights' format
    int flg            # fraction bits of the gradients' format
    int r              # bits per draw
    int d              # dimension (coordinate of element i: i mod d)
    int k              # normals per step and element
    int m              # draws per step and element
    int64_t wmin       # the weights' raw range
    int64_t wmax
    int64_t tstride    # columns of the gradient table
    double sg          # gradient-noise standard deviation
    double c[16]       # the algorithm's update coefficients (SGLD/SGHMC ``_coefficients()``)
    cspec sw           # SR into the weights' format
    cspec sgr          # SR into the gradients' format
    cspec rnw          # round-to-nearest-even into the 62-bit wide word (VC)
    cspec srw          # SR into the wide word (VC grid branch)


cdef class SamplerParams:
    cdef sampler_params P
    cdef readonly object ga, gb, table, coef    # float64 arrays the kernel reads by pointer
