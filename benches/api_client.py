#!/usr/bin/env python3
"""N sequential HTTP GETs, each on a new connection (what a CRM's polling does): the client
side of benches/compare_api.sh. Exits 1 if any answer is not 200."""
import sys
import urllib.request

url, n = sys.argv[1], int(sys.argv[2])
headers = {"Authorization": "Bearer " + sys.argv[3]} if len(sys.argv) > 3 else {}
for _ in range(n):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
        if r.status != 200:
            sys.exit(1)
        r.read()
