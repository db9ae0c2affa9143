// f32_to_e5m2.v -- float32 -> OCP FP8 e5m2 conversion unit (fxsim docs/datapath.md section 9):
// f32_to_fp8.v with EB = 5, M = 2, FN = 0 (bias 15, emin = -14, IEEE infinities and NaNs,
// largest finite 57344, smallest subnormal 2^-16). Overflow (code > 0x7B, or ±inf): SAT = 0
// gives ±inf (`ieee`: both modes may round the magnitude up), SAT = 1 ±57344 (`saturate`).
// NaN gives the quiet NaN {sign, 7'h7E}. mode 0 `nearest_even`, 1 `stochastic` (trunc, R-bit
// draws, 1 <= R <= 32). Purely combinational.
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
    f32_to_fp8 #(.EB(5), .M(2), .FN(0), .R(R), .SAT(SAT)) u (.x(x), .rnd(rnd), .mode(mode), .y(y), .up(up));
endmodule
