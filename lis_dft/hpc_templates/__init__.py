"""Job-script templates (Jinja2) for SLURM and PBS, shipped with the package."""
