"""Low-precision SGLD and SGHMC samplers on the emulated datapath."""
