"""One parameter definition per tracker variant (pytracking's ``parameter/<tracker>/<variant>.py``).

Each module names its variant (``NAME``, the ``--tracker`` name), the family module and tracker class that run
it (``FAMILY``, ``TRACKER``), the exported model whose artifacts it runs (``MODEL``, None for the baselines),
and ``parameters()``: a fresh parameter object, every value on its own commented line. The modules import
nothing heavy at load (the parameter class is imported inside ``parameters()``); :mod:`..registry` lists them.
"""
