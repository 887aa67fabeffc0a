"""Energetics, results files, figures and reports, independent of where energies came from."""
