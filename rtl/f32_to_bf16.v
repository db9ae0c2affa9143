// f32_to_bf16.v -- float32 -> bf16 conversion unit (fxsim docs/datapath.md section 9).
//
// bf16 keeps float32's sign and 8-bit exponent and the top 7 of its 23 mantissa bits, so the
// conversion rounds away the low 16 bits of the magnitude: y = x[31:16] + up, where a carry out
// of the mantissa moves to the next binade by itself, subnormals round on the same bits, and
// the largest finite value rounds up to infinity (SAT = 0, overflow `ieee`) or stays at
// ±max = {sign, 15'h7F7F} (SAT = 1, `saturate`, which also maps ±inf to ±max). NaN gives the
// quiet NaN {sign, 8'hFF, 7'h40}.
//   mode 0  `nearest_even`: up when the low 16 bits exceed 0x8000, or equal it and x[16] is 1.
//   mode 1  `stochastic`, sr_rule `trunc`: D = the top R of the 16 discarded bits; up on the
//           carry out of the R-bit sum D + rnd (an exact value has D = 0 and never carries).
// Purely combinational; 1 <= R <= 16.
`timescale 1ns/1ps
module f32_to_bf16 #(
    parameter integer R   = 16,         // random bits per draw
    parameter integer SAT = 0
) (
    input  wire [31:0]  x,
    input  wire [R-1:0] rnd,
    input  wire         mode,
    output wire [15:0]  y,
    output wire         up
);
    wire        nan  = (x[30:23] == 8'hFF) && (x[22:0] != 23'd0);
    wire [15:0] low  = x[15:0];
    wire        rne  = (low > 16'h8000) || (low == 16'h8000 && x[16]);
    wire [R:0]  sum  = {1'b0, low[15:16-R]} + {1'b0, rnd};
    assign up = nan ? 1'b0 : (mode ? sum[R] : rne);
    wire [15:0] rounded = x[31:16] + {15'd0, up};
    wire        ovf  = !nan && rounded[14:7] == 8'hFF;    // rounded to, or was, ±inf
    assign y  = nan ? {x[31], 8'hFF, 7'h40} : ((ovf && SAT) ? {x[31], 15'h7F7F} : rounded);
endmodule
