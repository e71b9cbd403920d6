-- wrk script of bench/ttfb.sh: the same request templates as oggedge-load.
--   wrk ... -s bench/ttfb-requests.lua URL -- TEMPLATES_FILE DEFAULT_SHAPE PICK
-- TEMPLATES_FILE: one request per line, "TARGET SIZE [SHAPE]" (# comments).
-- SHAPE: full | bytes=A-B | range:SPAN (random SPAN-byte range, SPAN like 65536 or 64k) | player.
-- PICK: uniform | zipf:S (rank = line order).
-- done() prints one "WRK_RESULT key=value ..." line (latencies: whole response, microseconds).

local templates = {}
local cdf = nil

local function size_of(text)
  local n, unit = string.match(text, "^(%d+)([kKmM]?)$")
  n = tonumber(n)
  if unit == "k" or unit == "K" then n = n * 1024 elseif unit == "m" or unit == "M" then n = n * 1048576 end
  return n
end

function init(args)
  local file, default_shape, pick = args[1], args[2] or "full", args[3] or "uniform"
  for line in io.lines(file) do
    local target, size, shape = string.match(line, "^(%S+)%s+(%d+)%s*(%S*)")
    if target and string.sub(target, 1, 1) ~= "#" then
      if shape == nil or shape == "" then shape = default_shape end
      if shape == "range-64k" then shape = "range:64k" elseif shape == "range-4k" then shape = "range:4k" end
      local span = nil
      if string.sub(shape, 1, 6) == "range:" then span = size_of(string.sub(shape, 7)) end
      table.insert(templates, { target = target, size = tonumber(size), shape = shape, span = span })
    end
  end
  local s = string.match(pick, "^zipf:([%d%.]+)$")
  if s then
    s = tonumber(s)
    cdf = {}
    local sum = 0
    for k = 1, #templates do sum = sum + 1 / (k ^ s); cdf[k] = sum end
    for k = 1, #templates do cdf[k] = cdf[k] / sum end
  end
  math.randomseed(42)
end

local function pick_index()
  if cdf == nil then return math.random(1, #templates) end
  local u, lo, hi = math.random(), 1, #templates
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

-- The player-like mix, as oggedge-load draws it: 25 % first 64 KiB, 10 % end probe (last 8 KiB,
-- open-ended), 45 % a sequential 64 KiB read near the start (exponential, mean 8 chunks), 20 % a seek.
local function player_range(size)
  local chunk, u = 65536, math.random()
  if u < 0.25 or size <= chunk then
    return "bytes=0-" .. (math.min(chunk, size) - 1)
  elseif u < 0.35 then
    return "bytes=" .. math.max(0, size - 8192) .. "-"
  elseif u < 0.80 then
    local chunks = math.ceil(size / chunk)
    local k = math.min(chunks - 1, 1 + math.floor(-math.log(1 - math.random()) * 8))
    return "bytes=" .. (k * chunk) .. "-" .. (math.min(size, (k + 1) * chunk) - 1)
  else
    local start = math.random(0, size - chunk)
    return "bytes=" .. start .. "-" .. (start + chunk - 1)
  end
end

request = function()
  local t = templates[pick_index()]
  local range = nil
  if t.span then
    local span = math.min(t.span, t.size)
    local start = math.random(0, t.size - span)
    range = "bytes=" .. start .. "-" .. (start + span - 1)
  elseif t.shape == "player" then
    range = player_range(t.size)
  elseif string.sub(t.shape, 1, 6) == "bytes=" then
    range = t.shape
  end
  if range then return wrk.format("GET", t.target, { ["Range"] = range }) end
  return wrk.format("GET", t.target)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d bytes=%d rps=%.1f mean_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes, summary.requests / (summary.duration / 1e6),
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
