// f32_cvt.v -- the float32 conversion unit of an output format (fxsim docs/datapath.md section
// 9): bf16 (EB = 8, M = 7: f32_to_bf16.v, R <= 16), e4m3 (EB = 4, M = 3: f32_to_e4m3.v) or e5m2
// (EB = 5, M = 2: f32_to_e5m2.v), both f32_to_fp8.v with R <= 32. mode 0 `nearest_even`, 1 `stochastic` (trunc); SAT = 1 overflow
// `saturate`, 0 `ieee`. y holds the 1 + EB + M bits of the code. Purely combinational.
`timescale 1ns/1ps
module f32_cvt #(
    parameter integer EB  = 8,
    parameter integer M   = 7,
    parameter integer R   = 16,
    parameter integer SAT = 0
) (
    input  wire [31:0]    x,
    input  wire [R-1:0]   rnd,
    input  wire           mode,
    output wire [EB+M:0]  y,
    output wire           up
);
    generate
        if (EB == 8 && M == 7) begin : g_bf16
            f32_to_bf16 #(.R(R), .SAT(SAT)) u (.x(x), .rnd(rnd), .mode(mode), .y(y), .up(up));
        end else if (EB == 4 && M == 3) begin : g_e4m3
            f32_to_e4m3 #(.R(R), .SAT(SAT)) u (.x(x), .rnd(rnd), .mode(mode), .y(y), .up(up));
        end else if (EB == 5 && M == 2) begin : g_e5m2
            f32_to_e5m2 #(.R(R), .SAT(SAT)) u (.x(x), .rnd(rnd), .mode(mode), .y(y), .up(up));
        end else begin : g_none
            // synthesis translate_off
            initial begin
                $display("f32_cvt: ERROR: no unit for E%0dM%0d (bf16, e4m3, e5m2)", EB, M);
                $finish;
            end
            // synthesis translate_on
            assign y = {(EB + M + 1){1'b0}};
            assign up = 1'b0;
        end
    endgenerate
endmodule
