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

# Every run's new events of the moment, in one command. KEYS are the runs' event streams;
# ARGV the cap on each stream's length, how long a stream lives until its run ends, and the
# events as one JSON array of [stream's place in KEYS, id, kind, data]. Sent as a pipeline of
# XADDs (and an EXPIRE per run), they cost redis-py several times more CPU to pack and to read
# back than Redis took to run them: most of a streamed token's cost to a worker. As one JSON
# argument, packing the batch is a single C call however many events it holds.
# An event Redis refuses (an id not above the stream's last, if the run was ended by another
# worker meanwhile) is skipped, as a pipeline would skip it; the others still go in.
APPEND_EVENTS = """
local max_events, ttl = ARGV[1], ARGV[2]
local refused = 0
for _, event in ipairs(cjson.decode(ARGV[3])) do
  local added = redis.pcall('XADD', KEYS[event[1]], 'MAXLEN', '~', max_events, event[2],
    'k', event[3], 'd', event[4])
  if type(added) == 'table' and added.err then refused = refused + 1 end
end
for _, key in ipairs(KEYS) do
  redis.call('EXPIRE', key, ttl)
end
return refused
"""
