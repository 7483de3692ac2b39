import type { Redis } from 'ioredis';

/**
 * publish-slices-2: put the parameters a sliced step staged into place, in one step with its
 * version and notice, unless the step is poisoned.
 *   KEYS[1] staged parameters v, KEYS[2] parameters v, KEYS[3] the run's version key,
 *   KEYS[4..] the step's slice markers in slice order
 *   ARGV[1] v, ARGV[2] the params channel, ARGV[3] the notice
 *   returns { 1 published | 0 not finite, marker texts... }
 * Atomic, so no worker reads parameters v between the rename and the version (a worker's GET of
 * 4 MB parameters would otherwise sit between them). Parameters already in place and nothing
 * staged is a replayed step: a coordinator that resumed from a checkpoint finds the markers of a
 * step its predecessor published (the reducers skip it), and the bytes are the same. Finite means
 * every number in every marker is finite and so is the sum of the squares in slice order, the
 * same IEEE additions as the coordinator's: then the norm and the loss are finite.
 */
const SCRIPT = `
local out = {}
for i = 4, #KEYS do
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
if not finite or sq ~= sq or sq == math.huge then return { 0, unpack(out) } end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
elseif redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('parameters ' .. ARGV[1] .. ' are neither staged nor in place')
end
redis.call('SET', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return { 1, unpack(out) }`;

type WithPublish = Redis & {
  nnqPublishSlices(...args: (string | number)[]): Promise<[number, ...string[]]>;
};

/** Run publish-slices-2; `published` false means a marker or their sum is not finite (nothing changed). */
export async function publishSlices(
  redis: Redis,
  keys: { staging: string; params: string; version: string; markers: string[] },
  version: number,
  channel: string,
  notice: string,
): Promise<{ published: boolean; markers: string[] }> {
  const r = redis as WithPublish;
  if (typeof r.nnqPublishSlices !== 'function') {
    redis.defineCommand('nnqPublishSlices', { lua: SCRIPT });
  }
  const [flag, ...markers] = await r.nnqPublishSlices(
    3 + keys.markers.length,
    keys.staging,
    keys.params,
    keys.version,
    ...keys.markers,
    version,
    channel,
    notice,
  );
  return { published: flag === 1, markers };
}
