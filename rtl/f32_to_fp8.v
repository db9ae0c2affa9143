// f32_to_fp8.v -- float32 -> an FP8 format of EB exponent and M mantissa bits (fxsim
// docs/datapath.md section 9): OCP e4m3 (EB = 4, M = 3, FN = 1: no infinities, S.1111.111 is
// NaN) and e5m2 (EB = 5, M = 2, FN = 0: IEEE infinities and NaNs). f32_to_e4m3.v and
// f32_to_e5m2.v are this unit with their parameters.
//
// Bias 2^(EB-1) - 1, emin = 1 - bias. The magnitude |x| = Mx * 2^(ux - 23) (Mx = 1.F, 24 bits;
// a float32 subnormal, far below every FP8 subnormal, is taken as Mx = F with ux = -126) is
// rounded at te = max(ux, emin): s = te - ux + 23 - M bits are discarded, q = Mx >> s (with the
// hidden bit), and the code is ((te - emin) << M) + q + up, so a mantissa carry moves to the next
// binade by itself.
//   mode 0  `nearest_even`: up when the discarded bits exceed half, or equal it and q is odd.
//   mode 1  `stochastic`, sr_rule `trunc`: D = the top R discarded bits; up on the carry out
//           of the R-bit sum D + rnd (an exact value has D = 0 and never carries).
// Overflow (code above the largest finite code, or ux above the largest exponent, or ±inf):
// SAT = 1 gives ±max (`saturate`); SAT = 0 (`ieee`: both modes may round the magnitude up)
// ±inf, or NaN in an FN format. NaN gives the format's NaN with the input's sign (FN: all ones;
// IEEE: exponent all ones and the top mantissa bit). Purely combinational; 1 <= R <= 32.
`timescale 1ns/1ps
module f32_to_fp8 #(
    parameter integer EB  = 4,
    parameter integer M   = 3,
    parameter integer FN  = 1,
    parameter integer R   = 8,
    parameter integer SAT = 0
) (
    input  wire [31:0]  x,
    input  wire [R-1:0] rnd,
    input  wire         mode,
    output wire [7:0]   y,
    output wire         up
);
    localparam integer BIAS = (1 << (EB - 1)) - 1;
    localparam integer EMIN = 1 - BIAS;
    localparam integer EMAX = (FN ? (1 << EB) - 1 : (1 << EB) - 2) - BIAS;   // largest finite exponent
    localparam [6:0]   MAXC = FN ? 7'h7E : ((((1 << EB) - 2) << M) | ((1 << M) - 1));
    localparam [6:0]   NANC = FN ? 7'h7F : ((((1 << EB) - 1) << M) | (1 << (M - 1)));
    localparam [6:0]   OVFC = FN ? NANC : (((1 << EB) - 1) << M);           // NaN or inf

    wire        sgn  = x[31];
    wire [7:0]  ex   = x[30:23];
    wire        nan  = (ex == 8'hFF) && (x[22:0] != 23'd0);
    wire        inf  = (ex == 8'hFF) && (x[22:0] == 23'd0);
    wire [23:0] Mx   = {ex != 8'd0, x[22:0]};
    wire signed [10:0] ux = (ex == 8'd0) ? -11'sd126 : $signed({3'b000, ex}) - 11'sd127;
    wire signed [10:0] te = (ux > EMIN) ? ux : EMIN;
    wire signed [10:0] sh = te - ux + 23 - M;               // discarded bits, >= 23 - M
    // beyond 63 the discarded value is below 2^-39 of an ulp: its top R <= 32 bits are zero
    wire [6:0]  s    = (sh > 11'sd63) ? 7'd63 : sh[6:0];
    wire [87:0] wide = {Mx, 64'd0} >> s;                    // q in [87:64], discarded bits in [63:0]
    wire [23:0] q    = wide[87:64];
    wire [63:0] d    = wide[63:0];
    wire        rne  = (d > 64'h8000000000000000) || (d == 64'h8000000000000000 && q[0]);
    wire [R:0]  sum  = {1'b0, d[63:64-R]} + {1'b0, rnd};
    wire        u    = mode ? sum[R] : rne;
    wire signed [10:0] tc = (te > EMAX + 1) ? EMAX + 1 : te;
    wire [11:0] code = ((tc - EMIN) << M) + q[11:0] + {11'd0, u};
    wire        ovf  = inf || (code > {5'd0, MAXC}) || (ux > EMAX);
    assign up = u && !nan && !inf;
    assign y  = nan ? {sgn, NANC} : (ovf ? {sgn, SAT ? MAXC : OVFC} : {sgn, code[6:0]});
endmodule
