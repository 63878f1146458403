"""Reports: templates and their rendering (e.g. a scheduled executive report as HTML or PDF),
filled from the query layer and the model and quality results. Orchestration schedules and
materializes them; this package only renders. Empty until the reports issue.

Imports: quality, models_ml, analytics, lake, core; never orchestration, apps or pulse.
"""
