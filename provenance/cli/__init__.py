"""The typer command-line interface: thin modules that parse, call the library and render."""
