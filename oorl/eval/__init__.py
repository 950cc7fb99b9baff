"""Evaluation: scorers (a registry: :mod:`.scorers`, :mod:`.prolog`), generic metrics (pass@k, Wilson
intervals, breakdowns: :mod:`.metrics`), reports (:mod:`.report`) and the eval run (:mod:`.run`)."""
