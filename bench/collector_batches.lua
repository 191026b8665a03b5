-- wrk script for bench/collector_vs_copy.py: each request posts a batch of fresh page
-- events (new event and visitor ids, as bench/common.py's collector_batch builds them)
-- to POST /api/collect. Arguments (after `--`): the batch size, the event page's slug,
-- and a nonce that keeps event ids unique across runs.

local batch, slug, nonce
local sent = 0

function init(args)
  batch = tonumber(args[1])
  slug = args[2]
  nonce = args[3]
  math.randomseed(os.time())
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local events = {}
  for i = 1, batch do
    sent = sent + 1
    events[i] = string.format(
      '{"event_id":"wrk-%s-%d","name":"view_item","event":"%s",'
        .. '"visitor_id":"v-%08x%08x","page_url":"https://bench.example/events/bench-event",'
        .. '"consent":{"ad_storage":true,"ad_user_data":true}}',
      nonce, sent, slug, math.random(0, 0x7fffffff), math.random(0, 0x7fffffff)
    )
  end
  return wrk.format(nil, nil, nil, '{"events":[' .. table.concat(events, ",") .. "]}")
end

function done(summary, latency, requests)
  io.write(string.format("latency p50 %.6f p95 %.6f\n",
    latency:percentile(50) / 1e6, latency:percentile(95) / 1e6))
end
