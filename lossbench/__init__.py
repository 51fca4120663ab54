"""Pieces every room shares: config schemas, their checks, the memory a size may take."""
