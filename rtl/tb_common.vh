// tb_common.vh -- shared test-bench plumbing (included inside a test-bench module).
//
// Plusargs:  +vectors=DIR  folder holding the input .mem files (spec section 7), default "."
//            +out=DIR      folder for the output .mem files, default "."
// Or, without plusargs, `define VECTORS "DIR" / `define OUT "DIR" at compile time
// (iverilog -DVECTORS=\"DIR\").  Outputs are written with $fwrite("%h\n"), i.e. one word per
// line, lower-case hex, zero-padded to ceil(width/4) digits, two's complement.
reg [8*960-1:0]  vdir;   // at most 960 characters (Verilator: $display arguments <= 8192 bits)
reg [8*960-1:0]  odir;
reg [8*1024-1:0] fname;

task tb_get_dirs;
    begin
`ifdef VECTORS
        vdir = `VECTORS;
`else
        vdir = ".";
`endif
`ifdef OUT
        odir = `OUT;
`else
        odir = ".";
`endif
        if ($value$plusargs("vectors=%s", vdir)) ;
        if ($value$plusargs("out=%s", odir)) ;
    end
endtask

// fname <= "<vdir>/<name>"
task tb_in_name;
    input [8*64-1:0] name;
    begin
        $sformat(fname, "%0s/%0s", vdir, name);
    end
endtask

// opens "<odir>/<name>" for writing, stops the run if it cannot
task tb_open_out;
    input  [8*64-1:0] name;
    output integer    fd;
    begin
        $sformat(fname, "%0s/%0s", odir, name);
        fd = $fopen(fname, "w");
        if (fd == 0) begin
            $display("ERROR: cannot open %0s", fname);
            $finish;
        end
    end
endtask

// stops the run when xr, the XOR of case i's inputs (^{x, ...}), is x: an input bit is x or z
task tb_check_defined;
    input         xr;
    input integer i;
    begin
        if (xr === 1'bx) begin
            $display("ERROR: undefined input at case %0d", i);
            $finish;
        end
    end
endtask
