-- soak.lua -- the wrk script of the soak (soak.sh): every connection
-- rotates through valid and invalid requests of every kind, tags each with
-- an X-Request-Id naming its kind (the server echoes it), and response()
-- checks the status and a piece of the body the kind must have. done()
-- prints the totals on one line that soak.sh reads:
--   soak: responses N mismatches M unknown U

local raw_f32 = "\0\0\128\63\0\0\0\64"          -- float32 1, 2
local nan_f32 = "\0\0\128\63\0\0\192\127"       -- float32 1, NaN
local npy_hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
local npy = "\147NUMPY\1\0\118\0" .. npy_hdr .. string.rep(" ", 118 - #npy_hdr - 1) .. "\n"
            .. "\0\0\0\0\0\0\240\63\0\0\0\0\0\0\0\64"   -- float64 1, 2
local ones = "[" .. string.rep("1, ", 999) .. "1]"

local json = { ["Content-Type"] = "application/json" }
local octet = { ["Content-Type"] = "application/octet-stream" }

-- { method, path, content-type headers, body, status, substring }
local kinds = {
  { "POST", "/l2_loss", json, "[[1, 2], [3, 4]]", 200, '"loss": 15.0' },
  { "POST", "/regularize?scale=0.5", json,
    '{"tensors": {"dense/kernel": [[1, 2], [3, 4]], "dense/bias": [1]}}', 200, '"loss": 7.75' },
  { "POST", "/l2_loss?dtype=float32", octet, raw_f32, 200, '"loss": 2.5' },
  { "POST", "/l2_loss", { ["Content-Type"] = "application/x-npy" }, npy, 200, '"loss": 2.5' },
  { "POST", "/l2_loss?dtype=bfloat16", json, ones, 200, '"loss": 500.0' },
  { "GET", "/healthz", nil, nil, 200, '"status":"ok"' },
  { "GET", "/readyz", nil, nil, 200, '"ready"' },
  { "GET", "/metrics", nil, nil, 200, "l2d_requests_total" },
  { "GET", "/openapi.yaml", nil, nil, 200, "openapi:" },
  { "POST", "/l2_loss", json, "[1, ]]", 400, '"invalid_json"' },
  { "POST", "/l2_loss", json, "[[1, 2], [3]]", 400, '"invalid_tensor"' },
  { "POST", "/l2_loss?dtype=float16", json, "[70000]", 400, '"number_out_of_range"' },
  { "POST", "/l2_loss?dtype=float32", octet, nan_f32, 400, '"non_finite"' },
  { "POST", "/l2_loss?dtype=float32", octet, "\0\0\0", 400, '"invalid_length"' },
  { "POST", "/l2_loss?dtype=float99", json, "[1]", 400, '"invalid_dtype"' },
  { "POST", "/regularize?scale=1", json, "[1]", 400, '"invalid_scale"' },
  { "POST", "/l2_loss?bogus=1", json, "[1]", 400, '"invalid_parameter"' },
  { "POST", "/l2_loss", { ["Content-Type"] = "application/x-npy" }, "NOTNPY....", 400, '"invalid_npy"' },
  { "GET", "/nowhere", nil, nil, 404, '"not_found"' },
  { "DELETE", "/l2_loss", nil, nil, 405, '"method_not_allowed"' },
  { "POST", "/l2_loss", { ["Content-Type"] = "text/plain" }, "[1]", 415, '"unsupported_media_type"' },
  { "POST", "/l2_loss", json, "[" .. string.rep("1, ", 2000) .. "1]", 413, '"payload_too_large"' },
  { "CHUNKED", "/l2_loss", nil, nil, 200, '"loss": 7.0' },
}

local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  table.insert(threads, thread)
end

function init(args)
  responses = 0
  mismatches = 0
  unknown = 0
  first = ""
  prepared = {}
  for i, k in ipairs(kinds) do
    prepared[i] = function(n)
      local id = string.format("soak-%d-%d-%d", i, tid, n)
      if k[1] == "CHUNKED" then
        return "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          .. "X-Request-Id: " .. id .. "\r\nTransfer-Encoding: chunked\r\n\r\n"
          .. "4\r\n[1, \r\n5\r\n2, 3]\r\n0\r\n\r\n"
      end
      local h = { ["X-Request-Id"] = id }
      if k[3] then
        for name, v in pairs(k[3]) do h[name] = v end
      end
      return wrk.format(k[1], k[2], h, k[4])
    end
  end
end

function request()
  counter = counter + 1
  local i = (counter % #kinds) + 1
  return prepared[i](counter)
end

function response(status, headers, body)
  responses = responses + 1
  local id = headers["X-Request-Id"] or headers["x-request-id"]
  local i = id and tonumber(string.match(id, "^soak%-(%d+)%-"))
  if not i or not kinds[i] then
    unknown = unknown + 1
    if first == "" then first = "status " .. status .. " without a soak id: " .. (body or "") end
    return
  end
  local k = kinds[i]
  if status ~= k[5] or not string.find(body or "", k[6], 1, true) then
    mismatches = mismatches + 1
    if first == "" then
      first = string.format("%s %s: want %d %s, got %d %s", k[1], k[2], k[5], k[6], status,
                            string.sub(body or "", 1, 200))
    end
  end
end

function done(summary, latency, requests)
  local r, m, u, f = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    r = r + t:get("responses")
    m = m + t:get("mismatches")
    u = u + t:get("unknown")
    if f == "" then f = t:get("first") end
  end
  io.write(string.format("soak: responses %d mismatches %d unknown %d\n", r, m, u))
  if f ~= "" then io.write("soak: first mismatch: " .. f .. "\n") end
  io.write(string.format("soak: p50 %.0f us, p99 %.0f us, max %.0f us\n",
                         latency:percentile(50), latency:percentile(99), latency.max))
end
