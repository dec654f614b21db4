"""One module per source, each in three steps: build the request → fetch (the only network
I/O) → parse into the standard frame (pure, tested on the publishers' real files).

`registry.py` names every source and how to build it; `universe.SOURCE_INFO` holds its label,
run mode (live: mof, treasury, fred, yahoo; demo; replay) and cadence setting; `main.py` builds
one collector job per source of the run mode.
"""
