// tb_f32_unit.v -- test bench of the float32 conversion units (f32_cvt.v) for a vector folder.
// Inputs  (in +vectors=DIR): x.mem (COUNT float32 codes), rnd.mem (COUNT R-bit draws; only when
//                            DRAWS = 1), mode.mem (COUNT 1-bit codes: 0 nearest_even, 1 stochastic).
// Outputs (in +out=DIR):     y.mem (the codes, 1 + EB + M bits), tb_params.txt (the parameters
//                            it was compiled with, for fxsim check-vectors).
// Parameters: from the folder's params.vh (fxsim export-vectors --in-fmt fp32 --fmt e5m2 ...):
//   iverilog -g2005 -I rtl -I vec -s tb_f32_unit -o tb.vvp rtl/tb_f32_unit.v rtl/f32_cvt.v \
//            rtl/f32_to_bf16.v rtl/f32_to_e4m3.v \
//            rtl/f32_to_e5m2.v rtl/f32_to_fp8.v
// or, with -DTB_DEFAULTS, the defaults of tb_f32_params.vh and -P overrides.
`timescale 1ns/1ps
module tb_f32_unit;
`include "tb_common.vh"
`include "tb_f32_params.vh"

    reg  [31:0]   x_mem    [0:COUNT-1];
    reg  [R-1:0]  rnd_mem  [0:COUNT-1];
    reg  [0:0]    mode_mem [0:COUNT-1];
    reg  [31:0]   x;
    reg  [R-1:0]  rnd;
    reg           mode;
    wire [EB+M:0] y;
    wire          up;
    integer       i, fd_y, fd_p;

    f32_cvt #(.EB(EB), .M(M), .R(R), .SAT(SAT)) dut (.x(x), .rnd(rnd), .mode(mode), .y(y), .up(up));
`include "tb_read_inputs.vh"

    initial begin
        tb_get_dirs;
        tb_echo_f32(fd_p);
        tb_read_inputs(fd_p);
        tb_open_out("y.mem", fd_y);
        for (i = 0; i < COUNT; i = i + 1) begin
            x    = x_mem[i];
            rnd  = rnd_mem[i];
            mode = mode_mem[i][0];
            #1;
            tb_check_defined(^{x, rnd, mode}, i);
            $fwrite(fd_y, "%h\n", y);
        end
        $fclose(fd_y);
        $display("DONE %0d", COUNT);
        $finish;
    end
endmodule
