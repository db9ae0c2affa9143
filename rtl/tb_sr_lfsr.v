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
`ifdef TB_DEFAULTS
    parameter integer N     = 16;
    parameter [N-1:0] MASK  = 16'hD008;
    parameter         FORM  = "galois";
    parameter         RULE  = "serial";
`else
    parameter integer N     = `FXSIM_LFSR_N;
    parameter [N-1:0] MASK  = `FXSIM_LFSR_MASK;
    parameter         FORM  = `FXSIM_LFSR_FORM;
    parameter         RULE  = `FXSIM_LFSR_RULE;
`endif

    reg                  clk  = 1'b0;
    reg                  load = 1'b0;
    reg                  en   = 1'b0;
    reg         [N-1:0]  seed_mem [0:0];
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

    initial begin
        tb_get_dirs;
        tb_echo_cast(fd_p);
        $fwrite(fd_p, "DRAWS 1\nPER_CASE 1\nMODE 0\n");
        $fwrite(fd_p, "LFSR_N %0d\nLFSR_MASK %0d\nLFSR_FORM %0s\nLFSR_RULE %0s\nLFSR_LANES 1\n",
                N, MASK, FORM, RULE);
        $fclose(fd_p);
        tb_in_name("seed.mem"); $readmemh(fname, seed_mem);
        tb_in_name("x.mem");    $readmemh(fname, x_mem);
        tb_open_out("y.mem", fd_y);
        tb_open_out("draw.mem", fd_draw);
        load = 1'b1;
        #1 clk = 1'b1;
        #1 clk = 1'b0;
        load = 1'b0;
        en   = 1'b1;
        for (i = 0; i < COUNT; i = i + 1) begin
            x = x_mem[i];
            #1;
            if (^x === 1'bx) begin
                $display("ERROR: undefined input at case %0d", i);
                $finish;
            end
            $fwrite(fd_y, "%h\n", y);
            $fwrite(fd_draw, "%h\n", draw);
            clk = 1'b1;
            #1 clk = 1'b0;
        end
        $fclose(fd_y);
        $fclose(fd_draw);
        $display("DONE %0d", COUNT);
        $finish;
    end
endmodule
