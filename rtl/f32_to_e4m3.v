// f32_to_e4m3.v -- float32 -> OCP FP8 e4m3 conversion unit (fxsim docs/datapath.md section 9).
//
// e4m3: bias 7, emin = -6, 3 mantissa bits, no infinities, S.1111.111 is NaN, largest 448.
// The magnitude |x| = M * 2^(ux - 23) (M = 1.F, 24 bits; a float32 subnormal lies far below
// e4m3's smallest subnormal 2^-9 and is taken as M = F) is rounded at te = max(ux, -6):
// s = te - ux + 20 bits are discarded, q = M >> s, and the code is ((te + 6) << 3) + q + up,
// so a mantissa carry moves to the next binade by itself.
//   mode 0  `nearest_even`: up when the discarded bits exceed half, or equal it and q is odd.
//   mode 1  `stochastic`, sr_rule `trunc`: D = the top R discarded bits; up on the carry out
//           of the R-bit sum D + rnd.
// Overflow (code > 0x7E, or ±inf): SAT = 1 gives ±448 (`saturate`), SAT = 0 NaN (`ieee`).
// NaN gives {sign, 7'h7F}. Purely combinational; 1 <= R <= 16.
`timescale 1ns/1ps
module f32_to_e4m3 #(
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
    // exponents as signed 11-bit numbers; a float32 subnormal uses ux = -126
    wire signed [10:0] ux = (ex == 8'd0) ? -11'sd126 : $signed({3'b000, ex}) - 11'sd127;
    wire signed [10:0] te = (ux > -11'sd6) ? ux : -11'sd6;
    wire signed [10:0] sh = te - ux + 11'sd20;             // discarded bits, >= 20
    wire [6:0]  s    = (sh > 11'sd63) ? 7'd63 : sh[6:0];  // beyond 63: every bit is below R's reach
    wire [87:0] wide = {M, 64'd0} >> s;                     // q in [87:64], discarded bits in [63:0]
    wire [23:0] q    = wide[87:64];
    wire [63:0] d    = wide[63:0];
    wire        rne  = (d > 64'h8000000000000000) || (d == 64'h8000000000000000 && q[0]);
    wire [R:0]  sum  = {1'b0, d[63:64-R]} + {1'b0, rnd};
    wire        u    = mode ? sum[R] : rne;
    wire signed [10:0] tc = (te > 11'sd10) ? 11'sd10 : te;
    wire [11:0] code = {tc + 11'sd6, 3'b000} + {1'b0, q[10:0]} + {11'd0, u};
    wire        ovf  = inf || (code > 12'h07E) || (ux > 11'sd9);
    assign up = u && !nan && !inf;
    assign y  = nan ? {sgn, 7'h7F} : (ovf ? {sgn, SAT ? 7'h7E : 7'h7F} : {sgn, code[6:0]});
endmodule
