# cython: language_level=3
from libc.stdint cimport int64_t

# The kernel codes of the cast modes, declared once: the kernels use them as C constants (through
# cysrc/fxprims.pxd) and fxsim.modes builds its public name tuples from the Python enums that
# fxsim._kernels exports (RM_NEAREST_EVEN -> "nearest_even"; the order is the code order).

# rounding modes (codes < RM_STOCHASTIC are the deterministic ones)
cpdef enum Rounding:
    RM_FLOOR = 0
    RM_CEIL = 1
    RM_TOWARD_ZERO = 2
    RM_AWAY_FROM_ZERO = 3
    RM_NEAREST_UP = 4
    RM_NEAREST_DOWN = 5
    RM_NEAREST_ZERO = 6
    RM_NEAREST_AWAY = 7
    RM_NEAREST_EVEN = 8
    RM_NEAREST_ODD = 9
    RM_JAM = 10
    RM_STOCHASTIC = 11
    RM_STOCHASTIC_EPS = 12
    RM_SIGNED_STOCHASTIC_EPS = 13

cpdef enum Overflow:
    OV_SATURATE = 0
    OV_SATURATE_SYMMETRIC = 1
    OV_WRAP = 2
    OV_ERROR = 3

# few-bit stochastic rounding rules
cpdef enum SRRule:
    SR_TRUNC = 0
    SR_HALF = 1
    SR_RNE = 2
    SR_GE = 3       # up when D >= R (A = 2D + 2 against the complement of R); phi = 0 never rounds
    SR_TT_SFPU = 4  # Tenstorrent SFPSTOCHRND bit for bit: the magnitude up when its D >= R, exact
                    # values included (fxprims.tt_sfpu_step; q may move by -1, see spec §2)

# error codes reported per chunk (lowest index wins)
cpdef enum CastError:
    ERR_NONE = 0
    ERR_OVERFLOW = 1
    ERR_NAN = 2
    ERR_INF = 3

# container of raw words handed to the element-wise kernels (as bytes plus this code)
cpdef enum Word:
    WORD_I8 = 0
    WORD_I16 = 1
    WORD_I32 = 2
    WORD_I64 = 3
    WORD_U8 = 4
    WORD_U16 = 5
    WORD_U32 = 6
    WORD_U64 = 7


# -- the kernel-side cast description ----------------------------------------------------------

cdef extern from *:
    """
    typedef __int128 fx_i128;
    typedef unsigned __int128 fx_u128;
    """
    ctypedef long long i128 "fx_i128"
    ctypedef unsigned long long u128 "fx_u128"

ctypedef struct cspec:
    int mode          # RM_*
    int ovf           # OV_*
    int rule          # SR_*
    int r             # random bits per draw (stochastic modes)
    int wl
    int is_signed
    u128 E            # floor(eps * 2**r)
    i128 lo           # lowest raw value kept (-max for saturate_symmetric)
    i128 hi
    u128 mask         # 2**wl - 1
    int64_t lo64      # lo, hi clamped to int64 (exact for any value below 2**62)
    int64_t hi64

ctypedef struct counts_t:
    int64_t n
    int64_t inexact
    int64_t up
    int64_t ovf
    int64_t draws


cdef class CastSpec:
    """One cast as the kernels read it (see _kernels.pyx)."""
    cdef cspec cs


# the vectorized float64 block cast of the kernels (deterministic mode, saturating), for fxsim._small
cdef int cast_f64_sat(const cspec* cs, const double* x, char* out, Py_ssize_t n, int fl,
                      counts_t* c) noexcept nogil
