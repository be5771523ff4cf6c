"""Helpers the tests share (import them as `from support.tui import settle`); no tests here."""
