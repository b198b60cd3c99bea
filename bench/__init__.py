"""Load test, benchmarks and profile of osapp (issue 5). Never imported by osapp itself.

    python -m bench.load --users 50 --tabs 3 --minutes 5 --ttl 60   # the load test (locust)
    python -m bench.run                                             # benchmarks (a)-(c), wrk
    python -m bench.ab                                              # (a) + the sync stack's gain, in-process A/B
    python -m bench.micro                                           # benchmark (d), in-process
    python -m bench.profile                                         # pyinstrument profile

Everything that switches a part of osapp off for comparison (auth off, cache off, the other
session designs) lives in this package, as bench-only settings modules and middleware; nothing
in osapp/ can turn verification off. See docs/BENCHMARKS.md.
"""
