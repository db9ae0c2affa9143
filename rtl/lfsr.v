// lfsr.v -- maximal-length LFSR draw generator (fxsim spec/datapath.md section 5.1).
//
// One register of N bits, feedback mask MASK = sum over taps t of 2^(t-1) (XAPP052 taps).
//   FORM "galois"    (right shift): b = s[0];   s = (s >> 1) ^ (b ? MASK : 0);       out b
//   FORM "fibonacci" (left shift) : b = s[N-1]; f = ^(s & MASK); s = {s[N-2:0], f};  out b
// Draw rules (R-bit draw per clock):
//   RULE "serial": R steps per clock, unrolled combinationally (a leap-forward register);
//                  draw = the R output bits, the first one most significant.
//   RULE "state" : one step per clock; draw = the low R bits of the new state (R <= N).
//
// Timing: `draw` is combinational from the current state and is the draw that the next
// enabled clock consumes; on that clock the state advances (by R steps or by one step). After
// `load` (synchronous, state <= seed) `draw` therefore shows draw number 0 of the spec.
// The seed must be non-zero.
`timescale 1ns/1ps
module lfsr #(
    parameter integer N    = 16,
    parameter [N-1:0] MASK = 16'hD008,
    parameter         FORM = "galois",     // "galois" | "fibonacci"
    parameter integer R    = 16,
    parameter         RULE = "serial"      // "serial" | "state"
) (
    input  wire         clk,
    input  wire         load,      // synchronous load of seed (has priority over en)
    input  wire [N-1:0] seed,
    input  wire         en,        // advance to the next draw
    output wire [R-1:0] draw,
    output wire [N-1:0] state_o
);
    localparam integer STEPS = (RULE == "serial") ? R : 1;

    reg [N-1:0] state;
    reg [N-1:0] nxt;       // state after STEPS steps
    reg [R-1:0] outbits;   // output bits of those steps, first one most significant
    reg         b, f;
    integer     i;

    always @* begin
        nxt     = state;
        outbits = {R{1'b0}};
        for (i = 0; i < STEPS; i = i + 1) begin
            if (FORM == "galois") begin
                b   = nxt[0];
                nxt = (nxt >> 1) ^ (b ? MASK : {N{1'b0}});
            end else begin
                b   = nxt[N-1];
                f   = ^(nxt & MASK);
                nxt = (nxt << 1) | f;   // f zero-extends to N bits
            end
            outbits = (outbits << 1) | b;
        end
    end

    generate
        if (RULE == "serial") begin : g_serial
            assign draw = outbits;
        end else begin : g_state
            assign draw = nxt[R-1:0];
        end
    endgenerate

    always @(posedge clk) begin
        if (load)
            state <= seed;
        else if (en)
            state <= nxt;
    end

    assign state_o = state;

    // synthesis translate_off
    initial begin
        if (N < 2 || MASK[N-1] !== 1'b1) begin
            $display("lfsr: ERROR: need N >= 2 and MASK bit N-1 set (tap n)");
            $finish;
        end
        if (FORM != "galois" && FORM != "fibonacci") begin
            $display("lfsr: ERROR: FORM must be \"galois\" or \"fibonacci\"");
            $finish;
        end
        if (RULE != "serial" && RULE != "state") begin
            $display("lfsr: ERROR: RULE must be \"serial\" or \"state\"");
            $finish;
        end
        if (RULE == "state" && R > N) begin
            $display("lfsr: ERROR: the state rule needs R <= N");
            $finish;
        end
    end
    // synthesis translate_on
endmodule
