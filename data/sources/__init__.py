"""One module per source, each in three steps: build the request → fetch (the only network
I/O) → parse into the standard frame (pure, tested on the publishers' real files).

`main.py` picks the sources a run mode uses (live: mof, treasury, fred, yahoo;
demo; replay).
"""
