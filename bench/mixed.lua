-- wrk script: a realistic mix of traffic, and a one-line JSON summary with errors per kind.
--
--   wrk -t32 -c32 -d60s -s bench/mixed.lua http://127.0.0.1:8791 -- IDS WORDS BODIES API_KEY
--
-- Per request: 60 % GET /v1/claim-reviews/{id}.jsonld, 20 % GET /v1/claim-reviews/{id}/embed
-- (80 % reads of JSON-LD and embeds), 15 % searches (GET /v1/claim-reviews?q=WORD, a third of
-- them with a language filter), 5 % writes (POST /v1/claim-reviews with the next unused body).
-- IDS: review ids, one per line; WORDS: search words; BODIES: native review JSON, one per line,
-- each with its own external_id. Thread i of n sends bodies i, i+n, ... so none is sent twice.

local counter = 0
local threads = {}
local ids, words, bodies = {}, {}, {}
local next_body, step = 0, 2
local write_headers = {}
local kinds = {"jsonld", "embed", "search", "write"}
local last_kind = nil

local function lines(path)
   local out = {}
   for line in io.lines(path) do
      if #line > 0 then out[#out + 1] = line end
   end
   return out
end

function setup(thread)
   counter = counter + 1
   thread:set("thread_number", counter)
   thread:set("thread_seed", math.random(1, 2^30))
   threads[counter] = thread
end

function init(args)
   ids, words, bodies = lines(args[1]), lines(args[2]), lines(args[3])
   write_headers["Content-Type"] = "application/json"
   write_headers["Authorization"] = "Bearer " .. args[4]
   step = tonumber(args[5] or "2")
   next_body = (thread_number or 1) - 1
   -- Counters are plain globals (sent_jsonld, failed_jsonld, ...): done() reads them with
   -- thread:get, which copies numbers and strings between Lua states but not tables.
   for _, kind in ipairs(kinds) do _G["sent_" .. kind] = 0; _G["failed_" .. kind] = 0 end
   math.randomseed(os.time() + (thread_seed or 0))
end

function request()
   local roll = math.random()
   local id = ids[math.random(#ids)]
   if roll < 0.60 then
      last_kind = "jsonld"
      return wrk.format("GET", "/v1/claim-reviews/" .. id .. ".jsonld")
   elseif roll < 0.80 then
      last_kind = "embed"
      return wrk.format("GET", "/v1/claim-reviews/" .. id .. "/embed")
   elseif roll < 0.95 then
      last_kind = "search"
      local path = "/v1/claim-reviews?limit=20&q=" .. words[math.random(#words)]
      if math.random() < 0.33 then path = path .. "&language=en" end
      return wrk.format("GET", path)
   end
   last_kind = "write"
   local body = bodies[(next_body % #bodies) + 1]
   next_body = next_body + step
   return wrk.format("POST", "/v1/claim-reviews", write_headers, body)
end

-- last_kind names the request this response answers only when the thread has one connection:
-- run wrk with as many threads as connections (-t32 -c32), as bench/load.py does.
function response(status, headers, body)
   _G["sent_" .. last_kind] = _G["sent_" .. last_kind] + 1
   if status >= 400 then _G["failed_" .. last_kind] = _G["failed_" .. last_kind] + 1 end
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local per_kind = {}
   for _, kind in ipairs(kinds) do
      local s, f = 0, 0
      for _, thread in ipairs(threads) do
         s = s + thread:get("sent_" .. kind)
         f = f + thread:get("failed_" .. kind)
      end
      per_kind[#per_kind + 1] = string.format('"%s": {"requests": %d, "errors": %d}', kind, s, f)
   end
   io.write(string.format(
      'WRK_JSON {"requests": %d, "seconds": %.3f, "rps": %.1f, "bytes": %d, '
      .. '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, '
      .. '"status_errors": %d, "timeouts": %d, "kinds": {%s}}\n',
      summary.requests, seconds, summary.requests / seconds, summary.bytes,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      e.connect, e.read, e.write, e.status, e.timeout, table.concat(per_kind, ", ")))
end
