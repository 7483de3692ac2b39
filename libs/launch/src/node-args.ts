/**
 * Node flags for nnq's long-running processes (coordinator, workers, the benches' in-process
 * trainer). V8 sizes a new heap for small scripts; a process that moves megabytes of buffers per
 * step then runs a full mark-compact every step or two, 20-40 ms of marking each here, and the
 * synchronous step waits for it. A larger initial heap makes full collections rare (bench/cluster:
 * 1 worker at batch 4096 went from ~40k to ~58k samples/s). Pages are committed as used, so the
 * flag costs memory only as garbage accumulates between collections.
 * Command-line only: Node does not accept these in NODE_OPTIONS.
 */
export const APP_NODE_ARGS: readonly string[] = ['--initial-heap-size=512'];
