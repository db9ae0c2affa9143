// f32_to_e5m2.v -- float32 -> OCP FP8 e5m2 conversion unit (fxsim docs/datapath.md section 9).
//
// e5m2: bias 15, emin = -14, 2 mantissa bits, IEEE non-finites (S.11111.00 is inf, S.11111.1x
// and S.11111.01 NaN), largest finite 57344 (S.11110.11), smallest subnormal 2^-16.
// The magnitude |x| = M * 2^(ux - 23) (M = 1.F, 24 bits; a float32 subnormal, far below 2^-16,
// is taken as M = F with ux = -126) is rounded at te = max(ux, -14): s = te - ux + 21 bits are
// discarded, q = M >> s, and the code is ((te + 14) << 2) + q + up, so a mantissa carry moves
// to the next binade by itself (q holds the hidden bit).
//   mode 0  `nearest_even`: up when the discarded bits exceed half, or equal it and q is odd.
//   mode 1  `stochastic`, sr_rule `trunc`: D = the top R discarded bits; up on the carry out
//           of the R-bit sum D + rnd (an exact value has D = 0 and never carries).
// Overflow (code > 0x7B, or ux > 15): SAT = 0 gives ±inf (`ieee`: both modes may round the
// magnitude up), SAT = 1 ±57344 (`saturate`). ±inf stays ±inf (SAT = 0) or gives ±57344
// (SAT = 1). NaN gives the quiet NaN {sign, 7'h7E}. Purely combinational; 1 <= R <= 32.
`timescale 1ns/1ps
module f32_to_e5m2 #(
    parameter integer R   = 8,
    parameter integer SAT = 0
) (
    input  wire [31:0]  x,
    input  wire [R-1:0] rnd,
    input  wire         mode,
    output wire [7:0]   y,
    output wire         up
);
    wire        sgn  = x[31];
    wire [7:0]  ex   = x[30:23];
    wire        nan  = (ex == 8'hFF) && (x[22:0] != 23'd0);
    wire        inf  = (ex == 8'hFF) && (x[22:0] == 23'd0);
    wire [23:0] M    = {ex != 8'd0, x[22:0]};
    wire signed [10:0] ux = (ex == 8'd0) ? -11'sd126 : $signed({3'b000, ex}) - 11'sd127;
    wire signed [10:0] te = (ux > -11'sd14) ? ux : -11'sd14;
    wire signed [10:0] sh = te - ux + 11'sd21;             // discarded bits, >= 21
    // beyond 63 the discarded value is below 2^-39 of an ulp: its top R <= 32 bits are zero
    wire [6:0]  s    = (sh > 11'sd63) ? 7'd63 : sh[6:0];
    wire [87:0] wide = {M, 64'd0} >> s;                     // q in [87:64], discarded bits in [63:0]
    wire [23:0] q    = wide[87:64];
    wire [63:0] d    = wide[63:0];
    wire        rne  = (d > 64'h8000000000000000) || (d == 64'h8000000000000000 && q[0]);
    wire [R:0]  sum  = {1'b0, d[63:64-R]} + {1'b0, rnd};
    wire        u    = mode ? sum[R] : rne;
    wire signed [10:0] tc = (te > 11'sd16) ? 11'sd16 : te;
    wire [11:0] code = {tc + 11'sd14, 2'b00} + {1'b0, q[10:0]} + {11'd0, u};
    wire        ovf  = inf || (code > 12'h07B) || (ux > 11'sd15);
    assign up = u && !nan && !inf;
    assign y  = nan ? {sgn, 7'h7E} : (ovf ? {sgn, SAT ? 7'h7B : 7'h7C} : {sgn, code[6:0]});
endmodule
