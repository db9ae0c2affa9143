# cython: language_level=3
from libc.stdint cimport int64_t
from fxsim._kernels cimport cspec

# What the samplers' kernel reads for one run (cysrc/_samplers.pyx), built once per run by
# SamplerParams from named values and checked there.

# the update coefficients (``SGLD._coefficients()``, ``SGHMC._coefficients()``); var_lsb: a
# variance in LSB² of the weights' format; vc_gauss: 1 if that Q^vc takes its Gaussian branch
ctypedef struct sgld_coef:
    double eta, sigma, s_vc, var_lsb, vc_gauss

ctypedef struct sghmc_coef:
    double av, bv, ax, bx           # v ← av·v − bv·g, x ← x + ax·v − bx·g (+ noise)
    double sv, cxv, sxx             # noise: ξv = sv·z1, ξx = cxv·z1 + sxx·z2
    double s_vc_v, var_lsb_v, vc_gauss_v
    double s_vc_x, var_lsb_x, vc_gauss_x
    double kxv                      # x's mean moves by kxv·(v_new − its mean) (VC)

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
    sgld_coef sgld     # alg 0
    sghmc_coef sghmc   # alg 1
    cspec sw           # SR into the weights' format
    cspec sgr          # SR into the gradients' format
    cspec rnw          # round-to-nearest-even into the 62-bit wide word (VC)
    cspec srw          # SR into the wide word (VC grid branch)


cdef class SamplerParams:
    cdef sampler_params P
    cdef readonly object ga, gb, table    # float64 arrays the kernel reads by pointer
    cdef readonly dict coef
