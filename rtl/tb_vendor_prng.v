// tb_vendor_prng.v -- LANES vendor_prng units side by side (draw e of fxsim's source comes from
// lane e mod LANES): loads the lane seeds from +vectors/seeds.mem, then writes COUNT clocks of
// draws, lane 0 first, one hex word a line, to +out/draws.mem.
`timescale 1ns/1ps
module tb_vendor_prng;
    parameter         PRESET = "amd";
    parameter integer R      = 32;
    parameter integer LANES  = 1;
    parameter integer COUNT  = 1000;     // clocks

    reg clk = 0, load = 0, en = 0;
    reg [31:0] seeds [0:LANES-1];
    wire [R-1:0] draws [0:LANES-1];
    reg [1023:0] vec_dir, out_dir;
    integer fd, k, l;

    genvar g;
    generate
        for (g = 0; g < LANES; g = g + 1) begin : lane
            wire [31:0] st;
            vendor_prng #(.PRESET(PRESET), .R(R)) u (.clk(clk), .load(load), .seed(seeds[g]),
                                                     .en(en), .draw(draws[g]), .state_o(st));
        end
    endgenerate

    always #5 clk = ~clk;

    initial begin
        if (!$value$plusargs("vectors=%s", vec_dir) || !$value$plusargs("out=%s", out_dir)) begin
            $display("ERROR: +vectors= and +out= are required");
            $finish;
        end
        $readmemh({vec_dir, "/seeds.mem"}, seeds);
        fd = $fopen({out_dir, "/draws.mem"}, "w");
        load = 1;
        @(posedge clk); #1;
        load = 0;
        en = 1;
        for (k = 0; k < COUNT; k = k + 1) begin
            for (l = 0; l < LANES; l = l + 1)
                $fdisplay(fd, "%0h", draws[l]);
            @(posedge clk); #1;
        end
        $fclose(fd);
        $display("DONE");
        $finish;
    end
endmodule
