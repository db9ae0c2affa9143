// tb_f32_lfsr.v -- float32 stochastic rounding fed by its own LFSR (f32_sr_lfsr.v: lfsr.v ->
// f32_cvt.v). Case i uses draw number i of the LFSR, as fxsim's cast takes one draw per element.
// Inputs  (in +vectors=DIR): seed.mem (one word, N bits), x.mem (COUNT float32 codes).
// Outputs (in +out=DIR):     y.mem (the codes), draw.mem (the R-bit draw used by case i),
//                            tb_params.txt (the parameters it was compiled with).
// Parameters: from the folder's params.vh (fxsim export-vectors --in-fmt fp32 --fmt e5m2
// --rounding stochastic --source lfsr:...):
//   iverilog -g2005 -I rtl -I vec -s tb_f32_lfsr -o tb.vvp rtl/tb_f32_lfsr.v rtl/f32_sr_lfsr.v \
//            rtl/lfsr.v rtl/f32_cvt.v rtl/f32_to_bf16.v rtl/f32_to_e4m3.v \
//            rtl/f32_to_e5m2.v rtl/f32_to_fp8.v
// or, with -DTB_DEFAULTS, the defaults (here and in tb_f32_params.vh) and -P overrides.
`timescale 1ns/1ps
module tb_f32_lfsr;
`include "tb_common.vh"
`include "tb_f32_params.vh"
`include "tb_lfsr_params.vh"
    reg  [31:0]   x_mem    [0:COUNT-1];
    reg  [31:0]   x;
    wire [EB+M:0] y;
    wire [R-1:0]  draw;
    wire          up;
    integer       i, fd_y, fd_draw, fd_p;

    f32_sr_lfsr #(.EB(EB), .M(M), .R(R), .SAT(SAT), .N(N), .MASK(MASK), .FORM(FORM), .RULE(RULE))
        dut (.clk(clk), .load(load), .seed(seed_mem[0]), .en(en), .x(x), .y(y), .up(up), .draw(draw));

`include "tb_lfsr_run.vh"

    initial begin
        tb_get_dirs;
        tb_echo_f32(fd_p);
        tb_lfsr_run(fd_p, 1);
    end
endmodule
