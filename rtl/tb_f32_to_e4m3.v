// tb_f32_to_e4m3.v -- test bench for f32_to_e4m3.v.
// Input  (in +vectors=DIR): case.mem, COUNT 52-bit words {mode (4 bits), rnd (16 bits, the low
//                           R used), x (32 bits)}; mode 0 nearest_even, 1 stochastic.
// Output (in +out=DIR):     y.mem (e4m3 codes).
`timescale 1ns/1ps
module tb_f32_to_e4m3;
    parameter integer R     = 8;
    parameter integer SAT   = 0;
    parameter integer COUNT = 16;

    `include "tb_common.vh"

    reg  [51:0] cases [0:COUNT-1];
    reg  [51:0] c;
    wire [7:0]  y;
    wire        up;
    integer     i, fd_y;

    f32_to_e4m3 #(.R(R), .SAT(SAT)) dut (.x(c[31:0]), .rnd(c[32 +: R]), .mode(c[48]), .y(y), .up(up));

    initial begin
        tb_get_dirs;
        tb_in_name("case.mem");
        $readmemh(fname, cases);
        tb_open_out("y.mem", fd_y);
        for (i = 0; i < COUNT; i = i + 1) begin
            c = cases[i];
            #1;
            if (^c === 1'bx) begin
                $display("ERROR: undefined case %0d", i);
                $finish;
            end
            $fwrite(fd_y, "%h\n", y);
        end
        $fclose(fd_y);
        $display("DONE %0d", COUNT);
        $finish;
    end
endmodule
