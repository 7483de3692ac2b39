/**
 * RunRecord, HistoryEntry and isTerminal are the HTTP contract's (@nnq/protocol api/runs.ts); this
 * re-export serves the step code that lane N of #22 is moving (run-driver.ts). Import from
 * @nnq/protocol, not from here: the file goes once nothing imports it.
 */
export { RUN_STATES, isTerminal, type HistoryEntry, type RunRecord, type RunState } from '@nnq/protocol';
