// tb_lfsr_run.vh -- the run of a bench whose unit draws from its own LFSR (tb_sr_lfsr.v,
// tb_f32_lfsr.v; included inside the module after its declarations of clk, load, en, seed_mem,
// x_mem, x, y, draw, i, fd_y, fd_draw and the LFSR parameters N, MASK, FORM, RULE, COUNT).
// Echoes the draw and LFSR parameters (after the bench's own, on the open fd), loads the
// register from seed.mem, then case i: x = x_mem[i], y and the draw it used are written to
// y.mem and draw.mem, and a clock moves the LFSR to draw i + 1.
task tb_lfsr_run;
    input integer fd;
    input integer mode_code;
    begin
        $fwrite(fd, "DRAWS 1\nPER_CASE 1\nMODE %0d\n", mode_code);
        $fwrite(fd, "LFSR_N %0d\nLFSR_MASK %0d\nLFSR_FORM %0s\nLFSR_RULE %0s\nLFSR_LANES 1\n",
                N, MASK, FORM, RULE);
        $fclose(fd);
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
            tb_check_defined(^x, i);
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
endtask
