-- wrk script for bench/run.py: counts answers other than 200 (a 302 to /auth/login would
-- otherwise pass as a fast "success") and prints one machine-readable summary line.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_ok = 0
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("not_ok")
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d errors=%d not_ok=%d mean_us=%.1f p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    total, latency.mean, latency:percentile(50), latency:percentile(99)))
end
