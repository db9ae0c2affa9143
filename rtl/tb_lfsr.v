// tb_lfsr.v -- test bench for lfsr.v.
// Inputs  (in +vectors=DIR): seed.mem (one word, ceil(N/4) hex digits).
// Outputs (in +out=DIR):     draw.mem  (COUNT draws, ceil(R/4) digits; draw i of the spec),
//                            state.mem (COUNT states, the register after draw i).
`timescale 1ns/1ps
module tb_lfsr;
    parameter integer N     = 16;
    parameter [N-1:0] MASK  = 16'hD008;
    parameter         FORM  = "galois";
    parameter integer R     = 16;
    parameter         RULE  = "serial";
    parameter integer COUNT = 16;

    `include "tb_common.vh"

    reg          clk  = 1'b0;
    reg          load = 1'b0;
    reg          en   = 1'b0;
    reg  [N-1:0] seed_mem [0:0];
    wire [R-1:0] draw;
    wire [N-1:0] st;
    integer      i, fd_draw, fd_state;

    lfsr #(.N(N), .MASK(MASK), .FORM(FORM), .R(R), .RULE(RULE)) dut (
        .clk(clk), .load(load), .seed(seed_mem[0]), .en(en), .draw(draw), .state_o(st));

    initial begin
        tb_get_dirs;
        tb_in_name("seed.mem");
        $readmemh(fname, seed_mem);
        if (^seed_mem[0] === 1'bx || seed_mem[0] == 0) begin
            $display("ERROR: bad or missing seed in %0s", fname);
            $finish;
        end
        tb_open_out("draw.mem", fd_draw);
        tb_open_out("state.mem", fd_state);
        load = 1'b1;
        #1 clk = 1'b1;
        #1 clk = 1'b0;
        load = 1'b0;
        en   = 1'b1;
        for (i = 0; i < COUNT; i = i + 1) begin
            #1;
            $fwrite(fd_draw, "%h\n", draw);
            clk = 1'b1;
            #1 clk = 1'b0;
            $fwrite(fd_state, "%h\n", st);
        end
        $fclose(fd_draw);
        $fclose(fd_state);
        $display("DONE %0d", COUNT);
        $finish;
    end
endmodule
