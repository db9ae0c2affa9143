// tb_sr_lfsr.v -- an SR cast unit fed by its own LFSR (lfsr.v -> sr_unit.v, mode stochastic).
// Case i uses draw number i of the LFSR, as fxsim's cast takes one draw per element in C order.
// Inputs  (in +vectors=DIR): seed.mem (one word, N bits), x.mem (COUNT words, WI bits).
// Outputs (in +out=DIR):     y.mem (WO bits), draw.mem (the R-bit draw used by case i),
//                            tb_params.txt (the parameters it was compiled with).
// Parameters: from the vector folder's params.vh (fxsim export-vectors):
//   iverilog -g2005 -I rtl -I vec -s tb_sr_lfsr -o tb.vvp rtl/tb_sr_lfsr.v rtl/lfsr.v rtl/sr_unit.v
// or, compiled with -DTB_DEFAULTS, the defaults (here and in tb_cast_params.vh) and -P overrides.
`timescale 1ns/1ps
module tb_sr_lfsr;
`include "tb_common.vh"
`include "tb_cast_params.vh"
`include "tb_lfsr_params.vh"
    reg  signed [WI-1:0] x_mem    [0:COUNT-1];
    reg  signed [WI-1:0] x;
    wire        [R-1:0]  draw;
    wire        [N-1:0]  st;
    wire signed [WO-1:0] y;
    wire                 up, sat;
    integer              i, fd_y, fd_draw, fd_p;

    lfsr #(.N(N), .MASK(MASK), .FORM(FORM), .R(R), .RULE(RULE)) u_lfsr (
        .clk(clk), .load(load), .seed(seed_mem[0]), .en(en), .draw(draw), .state_o(st));
    sr_unit #(.WI(WI), .FI(FI), .WO(WO), .FO(FO), .R(R)) u_sr (
        .x(x), .rnd(draw), .mode(2'd0), .y(y), .up(up), .sat(sat));

`include "tb_lfsr_run.vh"

    initial begin
        tb_get_dirs;
        tb_echo_cast(fd_p);
        tb_lfsr_run(fd_p, 0);
    end
endmodule
