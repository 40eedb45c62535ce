"""Load from wrk on 127.0.0.1, bounded in time and connections, summarised by a Lua `done`."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass

# wrk counts non-2xx/3xx answers as errors.status; any error voids a throughput figure.
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

# Random 1 MiB slices of a file of BENCH_SIZE bytes, aligned like a player's requests.
RANGE_REQUEST = """
local size = tonumber(os.getenv("BENCH_SIZE"))
local slice = 1048576
math.randomseed(7)
request = function()
  local first = math.random(0, math.floor(size / slice) - 1) * slice
  wrk.headers["Range"] = "bytes=" .. first .. "-" .. (first + slice - 1)
  return wrk.format("GET")
end
"""

# A URL of its own for every request (an ignored query parameter), so no response is cached.
UNIQUE_URL = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", wrk.path .. "?uncached=" .. thread_id .. "-" .. n)
end
"""


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    bytes: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6


def wrk(
    url: str, *, seconds: int = 5, connections: int = 16, threads: int = 2,
    headers: dict[str, str] | None = None, script: str = "", env: dict[str, str] | None = None,
    allow_errors: bool = False,
) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script + _DONE)
        lua.flush()
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                   "--timeout", "10s", "-s", lua.name]
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        out = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 60,
                             env=env)
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}{out.stderr}")
    data = json.loads(line[6:])
    load = Load(data["requests"], data["duration_us"] / 1e6, data["bytes"], data["errors"],
                data["p50_us"] / 1000, data["p99_us"] / 1000)
    if load.errors and not allow_errors:
        raise RuntimeError(f"{load.errors} of {load.requests} requests to {url} failed")
    return load
