"""certtui: a private PKI for the home lab, trusted by phones on the first try."""

__version__ = "0.1.0"
