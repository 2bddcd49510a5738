"""Pure model: the one EditRequest, sizes, errors and reference-image preparation (Pillow). No I/O."""
