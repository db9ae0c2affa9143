// tb_f32_cvt.v -- test bench for the float32 conversion units f32_to_bf16.v (BF16 = 1),
// f32_to_e4m3.v (BF16 = 0, E5M2 = 0) and f32_to_e5m2.v (BF16 = 0, E5M2 = 1), overflow by SAT.
// Input  (in +vectors=DIR): case.mem, COUNT 68-bit words {mode (4 bits), rnd (32 bits, the low
//                           R used), x (32 bits)}; mode 0 nearest_even, 1 stochastic.
// Output (in +out=DIR):     y.mem (the result codes, bf16, e4m3 or e5m2).
`timescale 1ns/1ps
module tb_f32_cvt;
    parameter integer BF16  = 1;
    parameter integer E5M2  = 0;
    parameter integer R     = 16;
    parameter integer SAT   = 0;
    parameter integer COUNT = 16;

    `include "tb_common.vh"

    reg  [67:0] cases [0:COUNT-1];
    reg  [67:0] c;
    wire [15:0] y;
    wire        up;
    integer     i, fd_y;

    generate
        if (BF16) begin : g_bf16
            f32_to_bf16 #(.R(R)) dut (.x(c[31:0]), .rnd(c[32 +: R]), .mode(c[64]), .y(y), .up(up));
        end else if (E5M2) begin : g_e5m2
            wire [7:0] y8;
            f32_to_e5m2 #(.R(R), .SAT(SAT)) dut (.x(c[31:0]), .rnd(c[32 +: R]), .mode(c[64]),
                                                 .y(y8), .up(up));
            assign y = {8'd0, y8};
        end else begin : g_e4m3
            wire [7:0] y8;
            f32_to_e4m3 #(.R(R), .SAT(SAT)) dut (.x(c[31:0]), .rnd(c[32 +: R]), .mode(c[64]),
                                                 .y(y8), .up(up));
            assign y = {8'd0, y8};
        end
    endgenerate

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
