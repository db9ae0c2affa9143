"""Models for the optimizers and samplers (filled by the optimizer issue)."""
