// tb_read_inputs.vh -- the inputs of a bench that feeds its unit the folder's draws (tb_sr_unit.v,
// tb_f32_unit.v; included inside the module after its x_mem, rnd_mem, mode_mem, i and COUNT, R):
// DRAWS from the folder's params.vh (1 with -DTB_DEFAULTS); x.mem, rnd.mem (zeros when DRAWS = 0:
// a deterministic folder, the unit ignores them) and mode.mem.
`ifdef TB_DEFAULTS
    parameter integer DRAWS = 1;
`else
    parameter integer DRAWS = `FXSIM_DRAWS;
`endif

// echoes DRAWS after the bench's own parameters (on the open fd, then closed) and reads the inputs
task tb_read_inputs;
    input integer fd;
    begin
        $fwrite(fd, "DRAWS %0d\n", DRAWS);
        $fclose(fd);
        tb_in_name("x.mem");    $readmemh(fname, x_mem);
        if (DRAWS != 0) begin
            tb_in_name("rnd.mem"); $readmemh(fname, rnd_mem);
        end else
            for (i = 0; i < COUNT; i = i + 1) rnd_mem[i] = {R{1'b0}};
        tb_in_name("mode.mem"); $readmemh(fname, mode_mem);
    end
endtask
