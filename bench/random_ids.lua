-- wrk script: GET a random review per request, and print a one-line JSON summary at the end.
--
--   wrk -t2 -c32 -d10s -s bench/random_ids.lua http://127.0.0.1:8000 -- IDS_FILE PATH_FORMAT
--
-- IDS_FILE holds one review id per line (bench/seed.py writes it); PATH_FORMAT is a string.format
-- pattern such as "/v1/claim-reviews/%s.jsonld". With no arguments, every request GETs the URL
-- given to wrk (used for the ceiling app), and only the summary is added.

local ids = {}
local count = 0
local path_format = nil

function setup(thread)
   -- Different random sequences per thread.
   thread:set("thread_seed", math.random(1, 2^30))
end

function init(args)
   if args[1] then
      for line in io.lines(args[1]) do
         if #line > 0 then
            count = count + 1
            ids[count] = line
         end
      end
      path_format = args[2] or "/v1/claim-reviews/%s.jsonld"
   end
   math.randomseed(os.time() + (thread_seed or 0))
end

function request()
   if count == 0 then
      return wrk.format("GET")
   end
   return wrk.format("GET", string.format(path_format, ids[math.random(count)]))
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
