// sr_unit.v -- rounding cast unit (fxsim spec/datapath.md sections 2 and 3).
//
// Casts a WI-bit signed word x with FI fraction bits to a WO-bit signed word y with FO < FI
// fraction bits (FO may be negative), then saturates (overflow mode `saturate`).
// Let S = FI - FO >= 1 be the number of discarded bits, q = floor(x / 2^S) (arithmetic shift)
// and d the S discarded bits (phi = d / 2^S). The unit returns q or q + 1, selected by `mode`:
//   mode 0  `stochastic`, sr_rule `trunc` [SRFF]: D = the top R discarded bits
//           (D = d << (R - S) when S < R); round up when D + rnd >= 2^R, i.e. on the carry out
//           of an R-bit adder. phi = 0 gives D = 0, which never carries.
//   mode 1  `nearest_even`: up when phi > 1/2, or phi = 1/2 and q is odd. rnd is ignored.
//   mode 2  `floor`: never up. rnd is ignored.
//   mode 3  reserved; behaves as floor.
// Then y = clamp(q + up, -2^(WO-1), 2^(WO-1) - 1). Purely combinational.
// Outputs: up (rounded up, before saturation) and sat (the result was clamped).
`timescale 1ns/1ps
module sr_unit #(
    parameter integer WI = 16,   // input word length (signed)
    parameter integer FI = 12,   // input fraction length
    parameter integer WO = 8,    // output word length (signed)
    parameter integer FO = 4,    // output fraction length, FO < FI
    parameter integer R  = 8     // random word width r (1..64)
) (
    input  wire signed [WI-1:0] x,
    input  wire        [R-1:0]  rnd,
    input  wire        [1:0]    mode,
    output wire signed [WO-1:0] y,
    output wire                 up,
    output wire                 sat
);
    localparam integer S  = FI - FO;                      // discarded bits
    localparam integer WE = ((WI > S) ? WI : S) + 2;      // x sign-extended, q, q + 1 fit
    localparam integer W2 = ((WE > WO) ? WE : WO) + 2;    // width of the saturation compare

    wire signed [WE-1:0] xe = x;                          // sign extension
    wire signed [WE-1:0] q  = xe >>> S;                   // floor(x / 2^S)
    wire        [S-1:0]  d  = xe[S-1:0];                  // discarded bits

    // top R discarded bits
    wire [R-1:0] D;
    generate
        if (S >= R) begin : g_d_cut
            assign D = d[S-1:S-R];
        end else begin : g_d_pad
            assign D = {d, {(R-S){1'b0}}};
        end
    endgenerate

    // stochastic: carry out of D + rnd
    wire [R:0] sum   = {1'b0, D} + {1'b0, rnd};
    wire       up_sr = sum[R];

    // nearest_even
    wire half = d[S-1];
    wire rest;
    generate
        if (S >= 2) begin : g_rest
            assign rest = |d[S-2:0];
        end else begin : g_norest
            assign rest = 1'b0;
        end
    endgenerate
    wire up_ne = half & (rest | q[0]);

    assign up = (mode == 2'd0) ? up_sr :
                (mode == 2'd1) ? up_ne : 1'b0;

    // q + up, then saturate to WO bits
    wire signed [W2-1:0] qw   = q;
    wire signed [W2-1:0] upw  = {{(W2-1){1'b0}}, up};
    wire signed [W2-1:0] qr   = qw + upw;
    wire signed [W2-1:0] one  = {{(W2-1){1'b0}}, 1'b1};
    wire signed [W2-1:0] maxv = (one <<< (WO - 1)) - one;
    wire signed [W2-1:0] minv = -(one <<< (WO - 1));

    assign sat = (qr > maxv) || (qr < minv);
    assign y   = (qr > maxv) ? maxv[WO-1:0] :
                 (qr < minv) ? minv[WO-1:0] : qr[WO-1:0];

    // synthesis translate_off
    initial begin
        if (S < 1) begin
            $display("sr_unit: ERROR: need FO < FI");
            $finish;
        end
        if (R < 1 || R > 64) begin
            $display("sr_unit: ERROR: need 1 <= R <= 64");
            $finish;
        end
    end
    // synthesis translate_on
endmodule
