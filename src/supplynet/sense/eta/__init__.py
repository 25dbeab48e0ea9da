"""ETA: where a shipment is and when it will arrive.

- :mod:`.trips` (GPS tracks from CSV and GPX) and :mod:`.geo` (routes, map matching, dwells, geofences);
- the segment models: :mod:`.eta` (segment times with a Gaussian-process correction) and
  :mod:`.eta_tod` (segment times by time of day, the default), :mod:`.eta_lane` (one model across a
  lane's trips); :mod:`.eta_backtest` evaluates them leave-one-trip-out;
- :mod:`.delay`: the live path, a shipment declared late when its predicted arrival passes the promise.

The public names are published by :mod:`supplynet.sense`.
"""
