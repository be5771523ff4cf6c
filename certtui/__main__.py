"""Entry point for `python -m certtui`."""

from certtui.cli import main

if __name__ == "__main__":
    main()
