-- wrk script: POST a different claim review per request, and print a one-line JSON summary.
--
--   wrk -t2 -c16 -d10s -s bench/post_reviews.lua http://127.0.0.1:8000 -- BODIES_FILE API_KEY
--
-- BODIES_FILE holds one native JSON review per line, each with its own external_id
-- (bench/run.py writes it with bench/seed.py's generator). Thread i of n sends lines i, i+n, ...
-- so no body is sent twice while the file lasts; make it longer than the run can consume
-- (a repeated body answers 409, counted in status_errors).

local counter = 0
local bodies = {}
local count = 0
local next_index = 0
local step = 1
local headers = {}

function setup(thread)
   counter = counter + 1
   thread:set("thread_number", counter)
end

function init(args)
   for line in io.lines(args[1]) do
      if #line > 0 then
         count = count + 1
         bodies[count] = line
      end
   end
   headers["Content-Type"] = "application/json"
   headers["Authorization"] = "Bearer " .. args[2]
   step = tonumber(args[3] or "2")
   next_index = (thread_number or 1) - 1
end

function request()
   local body = bodies[(next_index % count) + 1]
   next_index = next_index + step
   return wrk.format("POST", "/v1/claim-reviews", headers, body)
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "seconds": %.3f, "rps": %.1f, "bytes": %d, '
      .. '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, '
      .. '"status_errors": %d, "timeouts": %d}\n',
      summary.requests, seconds, summary.requests / seconds, summary.bytes,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      e.connect, e.read, e.write, e.status, e.timeout))
end
