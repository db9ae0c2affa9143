// tb_sat_mac.v -- test bench for sat_mac.v: COUNT dot products of length K.
// Inputs  (in +vectors=DIR): a.mem, b.mem (COUNT*K words, WX and WY bits; dot j uses words
//                            j*K .. j*K+K-1, k ascending).
// Outputs (in +out=DIR):     y.mem (COUNT results, WA bits: the accumulator after K steps),
//                            acc_steps.mem (COUNT*K words: the accumulator after every step),
//                            tb_params.txt (the parameters it was compiled with).
// Parameters: from the vector folder's params.vh (fxsim export-vectors --op dot; the
// accumulator has the product's fraction FA + FB, exact products, overflow saturate):
//   iverilog -g2005 -I rtl -I mac -s tb_sat_mac -o tb.vvp rtl/tb_sat_mac.v rtl/sat_mac.v
// or, compiled with -DTB_DEFAULTS, the defaults below and -P overrides.
`timescale 1ns/1ps
module tb_sat_mac;
`ifdef TB_DEFAULTS
    parameter integer WX    = 8;
    parameter integer WY    = 8;
    parameter integer WA    = 20;
    parameter integer K     = 4;
    parameter integer COUNT = 4;
`else
`include "params.vh"
    parameter integer WX    = `FXSIM_A_WL;
    parameter integer WY    = `FXSIM_B_WL;
    parameter integer WA    = `FXSIM_Y_WL;
    parameter integer K     = `FXSIM_K;
    parameter integer COUNT = `FXSIM_COUNT;
    parameter integer FA    = `FXSIM_A_FL;
    parameter integer FB    = `FXSIM_B_FL;
`endif

    `include "tb_common.vh"

    reg  signed [WX-1:0] a_mem [0:COUNT*K-1];
    reg  signed [WY-1:0] b_mem [0:COUNT*K-1];
    reg                  clk = 1'b0;
    reg                  clr = 1'b0;
    reg                  en  = 1'b0;
    reg  signed [WX-1:0] a;
    reg  signed [WY-1:0] b;
    wire signed [WA-1:0] acc;
    wire                 sat;
    integer              j, k, fd_y, fd_steps, fd_p;

    sat_mac #(.WX(WX), .WY(WY), .WA(WA)) dut (
        .clk(clk), .clr(clr), .en(en), .a(a), .b(b), .acc(acc), .sat(sat));

    task tick;
        begin
            #1 clk = 1'b1;
            #1 clk = 1'b0;
        end
    endtask

    initial begin
        tb_get_dirs;
        tb_open_out("tb_params.txt", fd_p);
        $fwrite(fd_p, "A_WL %0d\nA_SIGNED 1\nB_WL %0d\nB_SIGNED 1\nY_WL %0d\nY_SIGNED 1\n", WX, WY, WA);
        $fwrite(fd_p, "K %0d\nCOUNT %0d\nOVERFLOW saturate\n", K, COUNT);
`ifndef TB_DEFAULTS     // the fraction lengths come only from a folder (the MAC works on raw words)
        $fwrite(fd_p, "A_FL %0d\nB_FL %0d\nY_FL %0d\n", FA, FB, FA + FB);
`endif
        $fclose(fd_p);
        tb_in_name("a.mem"); $readmemh(fname, a_mem);
        tb_in_name("b.mem"); $readmemh(fname, b_mem);
        tb_open_out("y.mem", fd_y);
        tb_open_out("acc_steps.mem", fd_steps);
        for (j = 0; j < COUNT; j = j + 1) begin
            clr = 1'b1; en = 1'b0;
            tick;
            clr = 1'b0; en = 1'b1;
            for (k = 0; k < K; k = k + 1) begin
                a = a_mem[j*K + k];
                b = b_mem[j*K + k];
                if (^{a, b} === 1'bx) begin
                    $display("ERROR: undefined input at dot %0d, k %0d", j, k);
                    $finish;
                end
                tick;
                $fwrite(fd_steps, "%h\n", acc);
            end
            en = 1'b0;
            $fwrite(fd_y, "%h\n", acc);
        end
        $fclose(fd_y);
        $fclose(fd_steps);
        $display("DONE %0d", COUNT);
        $finish;
    end
endmodule
