import type { Redis } from 'ioredis';

/**
 * publish-slices-3: put the parameters a sliced step staged into place, in one step with its
 * version and notice, and take the ids of the jobs parked waiting for them, unless the step is poisoned.
 *   KEYS[1] staged parameters v, KEYS[2] parameters v, KEYS[3] the run's version key,
 *   KEYS[4] the set of jobs parked for v (parked-jobs.ts), KEYS[5..] the step's slice markers in slice order
 *   ARGV[1] v, ARGV[2] the params channel, ARGV[3] the notice
 *   returns { 1 published | 0 not finite, parked job ids (none when not finite), marker texts... }
 * Atomic, so no worker reads parameters v between the rename and the version (a worker's GET of
 * 4 MB parameters would otherwise sit between them). Parameters already in place and nothing
 * staged is a replayed step: a coordinator that resumed from a checkpoint finds the markers of a
 * step its predecessor published (the reducers skip it), and the bytes are the same. Finite means
 * every number in every marker is finite and so is the sum of the squares in slice order, the
 * same IEEE additions as the coordinator's: then the norm and the loss are finite. The parked ids
 * come in the same round trip: once the notice is out, workers' gradients flood Redis and a
 * separate read waited behind them (up to 60 ms a step at 64 workers of 4 MB, bench:scale).
 */
const SCRIPT = `
local out = {}
for i = 5, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if not v then return redis.error_reply('slice marker ' .. KEYS[i] .. ' is missing') end
  out[#out + 1] = v
end
local finite = true
local sq = 0
for _, v in ipairs(out) do
  local first = true
  for tok in string.gmatch(v, '%S+') do
    local x = tonumber(tok)
    if x == nil or x ~= x or x == math.huge or x == -math.huge then finite = false end
    if first and x then sq = sq + x end
    first = false
  end
end
if not finite or sq ~= sq or sq == math.huge then return { 0, {}, unpack(out) } end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
elseif redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('parameters ' .. ARGV[1] .. ' are neither staged nor in place')
end
redis.call('SET', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
local parked = redis.call('SMEMBERS', KEYS[4])
redis.call('DEL', KEYS[4])
return { 1, parked, unpack(out) }`;

type WithPublish = Redis & {
  nnqPublishSlices(...args: (string | number)[]): Promise<[number, string[], ...string[]]>;
};

/**
 * Run publish-slices-3; `published` false means a marker or their sum is not finite (nothing
 * changed, no parked id taken).
 */
export async function publishSlices(
  redis: Redis,
  keys: { staging: string; params: string; version: string; parked: string; markers: string[] },
  version: number,
  channel: string,
  notice: string,
): Promise<{ published: boolean; parked: string[]; markers: string[] }> {
  const r = redis as WithPublish;
  if (typeof r.nnqPublishSlices !== 'function') {
    redis.defineCommand('nnqPublishSlices', { lua: SCRIPT });
  }
  const [flag, parked, ...markers] = await r.nnqPublishSlices(
    4 + keys.markers.length,
    keys.staging,
    keys.params,
    keys.version,
    keys.parked,
    ...keys.markers,
    version,
    channel,
    notice,
  );
  return { published: flag === 1, parked, markers };
}
