/**
 * Preloaded into a worker by bench/memory (node --expose-gc -r probe.js): every PROBE_EVERY_MS it
 * runs a full collection and prints one line `nnq-memory {"at", "rss", "heapUsed", "external",
 * "arrayBuffers"}` to stderr, the process's memory after that collection. The timer is unref'd:
 * it never keeps the worker alive.
 */
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('bench/memory probe: run node with --expose-gc');
const every = Number(process.env.PROBE_EVERY_MS ?? 2000);
setInterval(() => {
  collect();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  process.stderr.write(`nnq-memory ${JSON.stringify({ at: Date.now(), rss, heapUsed, external, arrayBuffers })}\n`);
}, every).unref();

export {};
