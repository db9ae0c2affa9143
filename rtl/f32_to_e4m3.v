// f32_to_e4m3.v -- float32 -> OCP FP8 e4m3 conversion unit (fxsim docs/datapath.md section 9):
// f32_to_fp8.v with EB = 4, M = 3, FN = 1 (bias 7, emin = -6, no infinities, S.1111.111 is NaN,
// largest 448). Overflow (code > 0x7E, or ±inf): SAT = 1 gives ±448 (`saturate`), SAT = 0 NaN
// (`ieee`). NaN gives {sign, 7'h7F}. mode 0 `nearest_even`, 1 `stochastic` (trunc, R-bit draws,
// 1 <= R <= 32). Purely combinational.
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
    f32_to_fp8 #(.EB(4), .M(3), .FN(1), .R(R), .SAT(SAT)) u (.x(x), .rnd(rnd), .mode(mode), .y(y), .up(up));
endmodule
