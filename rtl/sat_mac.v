// sat_mac.v -- saturating multiply-accumulate (fxsim spec/datapath.md section 4).
//
// acc_0 = 0 (clr); on every enabled clock acc <= sat(acc + a * b), k ascending:
//   * the product a * b is exact (WX + WY bits, fraction fa + fb): the product format is
//     left exact, so nothing is rounded;
//   * the accumulator has WA bits and the product's fraction, so acc + p is exact and the
//     accumulator cast only overflows: it saturates to [-2^(WA-1), 2^(WA-1) - 1] at every step
//     (so the result depends on the order, and the order is the spec's one).
// After K enabled clocks acc holds fxsim.dot(a, b, acc=QFormat(WA, fa + fb),
// overflow="saturate").  WA may be narrower than the product.
// Outputs: acc, and sat, high for one clock after a step that clamped.
`timescale 1ns/1ps
module sat_mac #(
    parameter integer WX = 8,    // width of a (signed)
    parameter integer WY = 8,    // width of b (signed)
    parameter integer WA = 20    // accumulator width (signed)
) (
    input  wire                 clk,
    input  wire                 clr,   // synchronous: acc <= 0 (priority over en)
    input  wire                 en,    // acc <= sat(acc + a * b)
    input  wire signed [WX-1:0] a,
    input  wire signed [WY-1:0] b,
    output reg  signed [WA-1:0] acc,
    output reg                  sat
);
    localparam integer WP = WX + WY;                      // exact product width
    localparam integer WS = ((WP > WA) ? WP : WA) + 1;    // exact sum width

    wire signed [WX-1:0] a_s = a;
    wire signed [WY-1:0] b_s = b;
    wire signed [WP-1:0] p   = a_s * b_s;                 // signed * signed, WP-bit context: exact
    wire signed [WS-1:0] pw  = p;
    wire signed [WS-1:0] aw  = acc;
    wire signed [WS-1:0] s   = pw + aw;                   // exact

    wire signed [WS-1:0] one  = {{(WS-1){1'b0}}, 1'b1};
    wire signed [WS-1:0] maxv = (one <<< (WA - 1)) - one;
    wire signed [WS-1:0] minv = -(one <<< (WA - 1));
    wire                 hi   = s > maxv;
    wire                 lo   = s < minv;
    wire signed [WA-1:0] nxt  = hi ? maxv[WA-1:0] : lo ? minv[WA-1:0] : s[WA-1:0];

    always @(posedge clk) begin
        if (clr) begin
            acc <= {WA{1'b0}};
            sat <= 1'b0;
        end else if (en) begin
            acc <= nxt;
            sat <= hi | lo;
        end
    end
endmodule
