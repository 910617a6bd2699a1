"""The Lua scripts of the Redis side of runs: each runs atomically in Redis, in one round
trip."""

# A listener that finds the owner gone ends the run for everyone, once: one final event and
# the status `failed`, unless the run has already ended or the owner is alive after all.
FAIL_IF_OWNER_LOST = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local seq = 0
if #last > 0 then seq = tonumber(string.match(last[1][1], '-(%d+)$')) end
redis.call('XADD', KEYS[2], '0-' .. (seq + 1), 'k', ARGV[1], 'd', ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'failed', 'error_code', ARGV[3], 'finished_at', ARGV[4],
  'final_seq', seq + 1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return seq + 1
"""

# Everything the owner writes of its runs at one moment, in one command: new runs, their
# events, their states, and listeners' marks. KEYS are the keys written; ARGV the cap on each
# stream's length, how long a running run's keys live, how long a finished run's keys live,
# and the writes as one JSON object:
#   e: events, [place of the stream in KEYS, id, kind, data], in order;
#   s: states, [place of the run's hash, place of its stream, [field, value, ...], finished,
#      place of the session's key or 0, run id];
#   l: listeners' marks, [place of the run's hash, time], only on a run Redis still holds.
# Events go before states, so a state that says how many events there are finds them there.
# Sent as pipelines (an XADD and an EXPIRE per event, an HSET, EXPIREs and a SET per state),
# they cost redis-py several times more CPU to pack and to read back than Redis took to run
# them, and a burst of new runs took a connection each from a pool of 100 (redis-py refuses
# the 101st). As one JSON argument, packing the batch is a single C call.
# An event Redis refuses (an id not above the stream's last, if the run was ended by another
# worker meanwhile) is skipped, as a pipeline would skip it; the others still go in.
WRITE_RUNS = """
local max_events, live_ttl, ended_ttl = ARGV[1], ARGV[2], ARGV[3]
local writes = cjson.decode(ARGV[4])
local refused = 0
local streams = {}
for _, event in ipairs(writes.e) do
  local added = redis.pcall('XADD', KEYS[event[1]], 'MAXLEN', '~', max_events, event[2],
    'k', event[3], 'd', event[4])
  if type(added) == 'table' and added.err then refused = refused + 1 end
  streams[event[1]] = true
end
for place in pairs(streams) do
  redis.call('EXPIRE', KEYS[place], live_ttl)
end
for _, state in ipairs(writes.s) do
  redis.call('HSET', KEYS[state[1]], unpack(state[3]))
  if state[4] == 1 then
    redis.call('EXPIRE', KEYS[state[1]], ended_ttl)
    redis.call('EXPIRE', KEYS[state[2]], ended_ttl)
  else
    redis.call('EXPIRE', KEYS[state[1]], live_ttl)
  end
  if state[5] > 0 then
    redis.call('SET', KEYS[state[5]], state[6], 'EX', live_ttl)
  end
end
for _, mark in ipairs(writes.l) do
  if redis.call('EXISTS', KEYS[mark[1]]) == 1 then
    redis.call('HSET', KEYS[mark[1]], 'listener_at', mark[2])
  end
end
return refused
"""
