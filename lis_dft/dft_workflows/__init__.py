"""Calculators, jobflow jobs and flows, the local runner, VASP sets and HPC submission."""
