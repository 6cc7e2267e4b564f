"""``fastport bench``: a load generator for fastport servers, and ``make bench``.

The generator (``runner``) drives publishers and subscribers in worker processes
(``worker``) over either door: the legacy JSON WebSocket protocol, spoken raw by
``wsclient`` so that writes can be batched, or the gRPC ``Connect`` stream
(``grpcclient``). ``proc`` reads a local server's CPU and memory from /proc,
``relays`` are the two bare baselines, and ``matrix`` runs the standard matrix and
writes ``bench/results.md``.
"""
