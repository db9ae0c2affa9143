// f32_sr_lfsr.v -- stochastic rounding of float32 into bf16, e4m3 or e5m2 with the R random
// bits from the LFSR unit (lfsr.v -> f32_cvt.v in mode 1), as a conversion unit with its own
// generator is wired: the draw shown on `draw` rounds the `x` of this clock, and the next
// enabled clock moves the LFSR to the next draw. After `load` (state <= seed) case i uses draw
// number i, as fxsim's cast takes one draw per element in C order from an LFSR source of the
// same N, MASK, FORM, RULE and seed.
`timescale 1ns/1ps
module f32_sr_lfsr #(
    parameter integer EB   = 8,
    parameter integer M    = 7,
    parameter integer R    = 16,
    parameter integer SAT  = 0,
    parameter integer N    = 16,
    parameter [N-1:0] MASK = 16'hD008,
    parameter         FORM = "galois",
    parameter         RULE = "serial"
) (
    input  wire          clk,
    input  wire          load,
    input  wire [N-1:0]  seed,
    input  wire          en,
    input  wire [31:0]   x,
    output wire [EB+M:0] y,
    output wire          up,
    output wire [R-1:0]  draw
);
    wire [N-1:0] st;
    lfsr #(.N(N), .MASK(MASK), .FORM(FORM), .R(R), .RULE(RULE)) u_lfsr (
        .clk(clk), .load(load), .seed(seed), .en(en), .draw(draw), .state_o(st));
    f32_cvt #(.EB(EB), .M(M), .R(R), .SAT(SAT)) u_cvt (
        .x(x), .rnd(draw), .mode(1'b1), .y(y), .up(up));
endmodule
