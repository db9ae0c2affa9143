// tb_cast_params.vh -- the cast parameters of tb_sr_unit.v and tb_sr_lfsr.v (included inside
// the module): from the vector folder's params.vh (fxsim export-vectors; compile with
// iverilog -I rtl -I <folder>), or, with -DTB_DEFAULTS, the defaults below and -P overrides.
`ifdef TB_DEFAULTS
    parameter integer WI    = 16;
    parameter integer FI    = 12;
    parameter integer WO    = 8;
    parameter integer FO    = 4;
    parameter integer R     = 8;
    parameter integer COUNT = 16;
`else
`include "params.vh"
    parameter integer WI    = `FXSIM_X_WL;
    parameter integer FI    = `FXSIM_X_FL;
    parameter integer WO    = `FXSIM_Y_WL;
    parameter integer FO    = `FXSIM_Y_FL;
    parameter integer R     = `FXSIM_R;
    parameter integer COUNT = `FXSIM_COUNT;
`endif

// writes what the bench was compiled with to <out>/tb_params.txt (fd: a free integer)
task tb_echo_cast;
    output integer fd;
    begin
        tb_open_out("tb_params.txt", fd);
        $fwrite(fd, "X_WL %0d\nX_FL %0d\nX_SIGNED 1\nY_WL %0d\nY_FL %0d\nY_SIGNED 1\nR %0d\nCOUNT %0d\n",
                WI, FI, WO, FO, R, COUNT);
    end
endtask
