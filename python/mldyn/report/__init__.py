"""Reports on runs: :mod:`mldyn.report.compare` (a learned run against a reference: tables, Markdown report,
``summary.json``) and :mod:`mldyn.report.plots` (the PNG figures, matplotlib's Agg backend)."""
