// tb_lfsr_params.vh -- the LFSR of a bench whose unit draws from its own LFSR (tb_sr_lfsr.v,
// tb_f32_lfsr.v; included inside the module): its parameters from the folder's params.vh (or,
// with -DTB_DEFAULTS, the defaults below and -P overrides), its clock, load and enable, and the
// register's starting state (seed.mem).
`ifdef TB_DEFAULTS
    parameter integer N     = 16;
    parameter [N-1:0] MASK  = 16'hD008;
    parameter         FORM  = "galois";
    parameter         RULE  = "serial";
`else
    parameter integer N     = `FXSIM_LFSR_N;
    parameter [N-1:0] MASK  = `FXSIM_LFSR_MASK;
    parameter         FORM  = `FXSIM_LFSR_FORM;
    parameter         RULE  = `FXSIM_LFSR_RULE;
`endif
    reg               clk  = 1'b0;
    reg               load = 1'b0;
    reg               en   = 1'b0;
    reg  [N-1:0]      seed_mem [0:0];
