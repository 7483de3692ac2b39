/**
 * Preloaded into a worker by bench/memory (node --expose-gc -r probe.js), and so into each of its
 * compute threads too (they inherit the flags): every PROBE_EVERY_MS it runs a full collection of
 * its thread's heap and prints one line `nnq-memory {"thread", "at", "rss", "heapUsed",
 * "arrayBuffers"}` to stderr (rss is the whole process's; heapUsed and arrayBuffers the thread's).
 * The timer is unref'd: it never keeps a thread alive.
 */
import { threadId } from 'node:worker_threads';

const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('bench/memory probe: run node with --expose-gc');
const every = Number(process.env.PROBE_EVERY_MS ?? 2000);
setInterval(() => {
  collect();
  const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
  process.stderr.write(
    `nnq-memory ${JSON.stringify({ thread: threadId, at: Date.now(), rss, heapUsed, arrayBuffers })}\n`,
  );
}, every).unref();
