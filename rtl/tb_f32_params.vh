// tb_f32_params.vh -- the parameters of tb_f32_unit.v and tb_f32_lfsr.v (included inside the
// module): from a float vector folder's params.vh (fxsim export-vectors --in-fmt fp32 --fmt
// bf16|e4m3|e5m2; compile with iverilog -I rtl -I <folder>), or, with -DTB_DEFAULTS, the
// defaults below and -P overrides.
`ifdef TB_DEFAULTS
    parameter integer EB    = 8;
    parameter integer M     = 7;
    parameter integer R     = 16;
    parameter integer SAT   = 0;
    parameter integer COUNT = 16;
`else
`include "params.vh"
    parameter integer EB    = `FXSIM_Y_EXP_BITS;
    parameter integer M     = `FXSIM_Y_MAN_BITS;
    parameter integer R     = `FXSIM_R;
    parameter integer SAT   = (`FXSIM_OVERFLOW == "saturate");
    parameter integer COUNT = `FXSIM_COUNT;
`endif

// writes what the bench was compiled with to <out>/tb_params.txt (fd: a free integer)
task tb_echo_f32;
    output integer fd;
    begin
        tb_open_out("tb_params.txt", fd);
        $fwrite(fd, "X_WL 32\nX_EXP_BITS 8\nX_MAN_BITS 23\nY_WL %0d\nY_EXP_BITS %0d\nY_MAN_BITS %0d\n",
                1 + EB + M, EB, M);
        $fwrite(fd, "R %0d\nCOUNT %0d\n", R, COUNT);
        if (SAT)
            $fwrite(fd, "OVERFLOW saturate\n");
        else
            $fwrite(fd, "OVERFLOW ieee\n");
    end
endtask
