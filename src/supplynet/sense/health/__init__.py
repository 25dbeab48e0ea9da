"""Health: how equipment wears and how long it has left.

- :mod:`.features`: operating regimes, normalised sensors, window and waveform features;
- :mod:`.health`: anomaly scores and CUSUM onset per asset; :mod:`.onset_log` per channel of a log;
- :mod:`.rul`: remaining useful life as a distribution; :mod:`.runlog` reads a company's own
  run-to-failure log into the shape the models take.

The public names are published by :mod:`supplynet.sense`.
"""
