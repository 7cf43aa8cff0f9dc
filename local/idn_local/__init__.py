"""Local mode: the SAM application, AWS emulation and a SailPoint tenant simulator on one machine."""
