"""Lead time: how long replenishment takes and how likely it is to be late.

- :mod:`.leadtime`: lead-time distributions per lane and mode and late-delivery risk from shipment
  history (the SCMS file as :mod:`supplynet.datasets.scms` reads it);
- :mod:`.leadtimes_live`: the lead times learned live from shipment events, per lane.

The public names are published by :mod:`supplynet.sense`.
"""
