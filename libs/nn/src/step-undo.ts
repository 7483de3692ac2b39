import type { OptimizerState } from './optimizers';

/**
 * What undoing a non-finite update needs (`step`'s `undo` option, `onNonFinite: "skip"`). The
 * kernel path needs nothing here: it leaves the caller's params and copied slots alone and keeps
 * a resident state's slots as they were in its own memory, as it goes. The reference loop writes
 * in place, so there the parameters and state before the update are copied into these buffers,
 * reused every step.
 */
export class StepUndo {
  private params?: Float32Array;
  private readonly slots = new Map<string, Float32Array>();
  private step = 0;

  save(params: Float32Array, state: OptimizerState): void {
    if (this.params?.length !== params.length) this.params = new Float32Array(params.length);
    this.params.set(params);
    this.step = state.step;
    for (const [name, v] of Object.entries(state.slots)) {
      let copy = this.slots.get(name);
      if (copy?.length !== v.length) this.slots.set(name, (copy = new Float32Array(v.length)));
      copy.set(v);
    }
  }

  restore(params: Float32Array, state: OptimizerState): void {
    if (!this.params) throw new Error('nothing saved to restore');
    params.set(this.params);
    state.step = this.step;
    for (const [name, v] of Object.entries(state.slots)) v.set(this.slots.get(name)!);
  }
}
