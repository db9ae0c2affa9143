// vendor_prng.v -- the LFSR-based SR generators of fxsim.vendor_sources (docs/datapath.md 5.3),
// one lane.
//   PRESET "amd"        : AMD CDNA V_PRNG_B32, D = (S0 << 1) ^ (S0[31] ? 197 : 0); the draw is
//                         the low R bits of D (the new state)
//   PRESET "tenstorrent": Tenstorrent SFPU AdvancePRNG, result = old state,
//                         state = {~^(state & 32'h80200003), state[31:1]}; the draw is the low
//                         R bits of the old state (SFPSTOCHRND: R = 23)
// Timing as lfsr.v: `draw` is combinational and is the draw the next enabled clock consumes;
// `load` (synchronous, priority over en) sets state <= seed.
`timescale 1ns/1ps
module vendor_prng #(
    parameter         PRESET = "amd",      // "amd" | "tenstorrent"
    parameter integer R      = 32          // 1 <= R <= 32
) (
    input  wire          clk,
    input  wire          load,
    input  wire [31:0]   seed,
    input  wire          en,
    output wire [R-1:0]  draw,
    output wire [31:0]   state_o
);
    reg  [31:0] state;
    wire [31:0] amd_next = {state[30:0], 1'b0} ^ (state[31] ? 32'd197 : 32'd0);
    wire [31:0] tt_next  = {~(^(state & 32'h80200003)), state[31:1]};
    wire [31:0] nxt      = (PRESET == "amd") ? amd_next : tt_next;

    assign draw    = (PRESET == "amd") ? amd_next[R-1:0] : state[R-1:0];
    assign state_o = state;

    always @(posedge clk)
        state <= load ? seed : (en ? nxt : state);
endmodule
