// tb_sr_unit.v -- test bench for sr_unit.v.
// Inputs  (in +vectors=DIR): x.mem (COUNT words, WI bits), rnd.mem (COUNT draws, R bits),
//                            mode.mem (COUNT 2-bit mode codes: 0 stochastic, 1 nearest_even,
//                            2 floor).
// Outputs (in +out=DIR):     y.mem (WO bits), up.mem and sat.mem (1 bit each), tb_params.txt
//                            (the parameters it was compiled with, for fxsim check-vectors).
// Parameters: from the vector folder's params.vh (fxsim export-vectors):
//   iverilog -g2005 -I rtl -I vec -s tb_sr_unit -o tb.vvp rtl/tb_sr_unit.v rtl/sr_unit.v
// or, compiled with -DTB_DEFAULTS, the defaults of tb_cast_params.vh and -P overrides. Without draws
// (DRAWS = 0: a deterministic folder) rnd is 0 (the unit ignores it).
`timescale 1ns/1ps
module tb_sr_unit;
`include "tb_common.vh"
`include "tb_cast_params.vh"

    reg  signed [WI-1:0] x_mem    [0:COUNT-1];
    reg         [R-1:0]  rnd_mem  [0:COUNT-1];
    reg         [1:0]    mode_mem [0:COUNT-1];
    reg  signed [WI-1:0] x;
    reg         [R-1:0]  rnd;
    reg         [1:0]    mode;
    wire signed [WO-1:0] y;
    wire                 up, sat;
    integer              i, fd_y, fd_up, fd_sat, fd_p;

    sr_unit #(.WI(WI), .FI(FI), .WO(WO), .FO(FO), .R(R)) dut (
        .x(x), .rnd(rnd), .mode(mode), .y(y), .up(up), .sat(sat));
`include "tb_read_inputs.vh"

    initial begin
        tb_get_dirs;
        tb_echo_cast(fd_p);
        tb_read_inputs(fd_p);
        tb_open_out("y.mem", fd_y);
        tb_open_out("up.mem", fd_up);
        tb_open_out("sat.mem", fd_sat);
        for (i = 0; i < COUNT; i = i + 1) begin
            x    = x_mem[i];
            rnd  = rnd_mem[i];
            mode = mode_mem[i];
            #1;
            tb_check_defined(^{x, rnd, mode}, i);
            $fwrite(fd_y, "%h\n", y);
            $fwrite(fd_up, "%h\n", up);
            $fwrite(fd_sat, "%h\n", sat);
        end
        $fclose(fd_y);
        $fclose(fd_up);
        $fclose(fd_sat);
        $display("DONE %0d", COUNT);
        $finish;
    end
endmodule
