-- wrk script: each request carries the next unused credential of the file
-- named by $CREDS (one Authorization value per line); only 2xx answers
-- count as paid. Prints ok_rps (paid requests per second) and creds_left.
-- (wrk runs request/response in each thread's Lua state and done in the
-- main one: the counters are globals read back through the thread objects.)
creds = {}
for line in io.lines(os.getenv("CREDS")) do
  if #line > 0 then creds[#creds + 1] = line end
end
next_cred = 1
ok = 0
left = #creds

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

request = function()
  local c = creds[next_cred]
  if c then next_cred = next_cred + 1 else c = "Payment none" end
  left = #creds - next_cred + 1
  return wrk.format(nil, nil, { ["Authorization"] = c })
end

response = function(status)
  if status >= 200 and status < 300 then ok = ok + 1 end
end

done = function(summary)
  local n, l = 0, 0
  for _, t in ipairs(threads) do
    n = n + t:get("ok")
    l = l + t:get("left")
  end
  io.write(string.format("ok_rps %.2f\n", n / (summary.duration / 1e6)))
  io.write(string.format("ok_count %d\n", n))
  io.write(string.format("creds_left %d\n", l))
end
