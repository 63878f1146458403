"""The simulation engine, one concept a module (each domain's behaviour is a mixin of
:class:`~lake.simulator.engine.simulation.Simulation`):

* :mod:`~lake.simulator.engine.simulation` — the world: its state, the day loop, a member's day.
* :mod:`~lake.simulator.engine.clock` — time units and seasonality.
* :mod:`~lake.simulator.engine.members` — who the members are and how the population is drawn.
* behaviour by domain: :mod:`~lake.simulator.engine.sessions`,
  :mod:`~lake.simulator.engine.onboarding` (signup, the A/B test),
  :mod:`~lake.simulator.engine.subscriptions`, :mod:`~lake.simulator.engine.marketplace`,
  :mod:`~lake.simulator.engine.recommender`, :mod:`~lake.simulator.engine.workouts`,
  :mod:`~lake.simulator.engine.feedback` (comments and the PII in them),
  :mod:`~lake.simulator.engine.consent`.
* :mod:`~lake.simulator.engine.emitters` — the Segment messages and their deliberate dirt.
* :mod:`~lake.simulator.engine.truth` — the ground truth and the database snapshots.
"""
