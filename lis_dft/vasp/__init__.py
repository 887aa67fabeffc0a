"""VASP production: input sets, campaigns, submission, custodian, parsing, results.

``sets`` (the paper's input sets through atomate2's generators), ``campaign``
(``lis-dft inputs``: campaign.json, exhaustive or seeded from a local run), ``submit``
(``lis-dft submit`` / ``status`` on a registered scheduler, :mod:`lis_dft.schedulers`),
``custodian_run`` (VASP under custodian inside the job script), ``parse`` (vasprun.xml
verdicts), ``results`` (a parsed campaign as the energy record the analysis reads) and
``neb`` (NEB folders from a run's paths, and read back).

This package sits above ``dft_workflows`` and ``analysis``: it may import them, they
never import it (``tests/test_architecture.py``).
"""
