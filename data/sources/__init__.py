"""One module per source, each in three steps: build the request → fetch (the only network
I/O) → parse into the standard frame (pure, tested on the publishers' real files).

`SOURCES` maps a source name to its class; the collector picks sources from this table.
"""
