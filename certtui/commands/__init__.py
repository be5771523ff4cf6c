"""CLI subcommands, one module per area; `certtui.cli` registers them."""
