"""Case rules: identifiers and (later) the case lifecycle. Pure, no I/O."""
