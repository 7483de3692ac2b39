import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NoticeBoard, type Subscriber } from './notice-board';

/** A subscriber connection the test publishes on, and how many were opened. */
function channel(subscribe: () => Promise<unknown> = async () => 1) {
  const opened: string[] = [];
  const conn = Object.assign(new EventEmitter(), {
    subscribe: async (name: string) => {
      opened.push(name);
      return subscribe();
    },
    quit: async () => 'OK',
    disconnect: () => undefined,
  });
  const board = new NoticeBoard(() => conn as unknown as Subscriber);
  return { board, opened, publish: (message: string) => conn.emit('message', 'ch', message) };
}

/** A wait's outcome, followed across time: `at(ms)` moves the fake clock and says if it ended. */
function follow(wait: Promise<void>) {
  const state = { done: false };
  void wait.then(() => (state.done = true));
  return {
    at: async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms);
      return state.done;
    },
  };
}

/** Whether `wait` has resolved once the microtasks and timers due now have run. */
const ended = (wait: Promise<void>) => follow(wait).at(0);

const POLL = 60_000;

describe('NoticeBoard', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('does not lose a notice that arrives between a read and a wait', async () => {
    const { board, publish } = channel();
    await board.listen('ch');
    // a read in flight: the notice is served before its reply, while no wait is registered
    const since = board.mark();
    const read = new Promise<null>((resolve) => {
      publish('r1:5');
      resolve(null);
    });
    expect(await read).toBeNull();
    expect(await ended(board.wait({ topic: 'r1:5', since, ms: POLL }))).toBe(true);
    // the same wait marked after the notice (the bug of 57b1e3f and 0d65ddd) sleeps to its poll
    const late = follow(board.wait({ topic: 'r1:5', since: board.mark(), ms: POLL }));
    expect(await late.at(POLL - 1)).toBe(false);
    expect(await late.at(1)).toBe(true);
  });

  it('ends a wait at once on its notice after the mark, whether it came before the wait or during it', async () => {
    const { board, publish } = channel();
    await board.listen('ch');
    const wait = follow(board.wait({ topic: 'r1:5', since: board.mark(), ms: POLL }));
    expect(await wait.at(10)).toBe(false);
    publish('r1:5');
    expect(await wait.at(0)).toBe(true);
    // any notice ends a wait without a topic, a local one (post) too
    const since = board.mark();
    board.post('failed job-3');
    expect(await ended(board.wait({ since, ms: POLL }))).toBe(true);
    const any = follow(board.wait({ since: board.mark(), ms: POLL }));
    publish('k0');
    expect(await any.at(0)).toBe(true);
  });

  it('does not end a wait on a notice before its mark, nor on one of another topic', async () => {
    const { board, publish } = channel();
    await board.listen('ch');
    publish('r1:5');
    const since = board.mark();
    publish('r1:6');
    publish('r2:5');
    publish('r1:50');
    const wait = follow(board.wait({ topic: 'r1:5', since, ms: POLL }));
    expect(await wait.at(POLL - 1)).toBe(false);
    publish('r1:5'); // published again (a resumed run): wakes it
    expect(await wait.at(0)).toBe(true);
  });

  it('ends a wait at once when more notices came after its mark than it remembers (its own maybe too)', async () => {
    const { board, publish } = channel();
    await board.listen('ch');
    const since = board.mark();
    publish('r1:5');
    for (let v = 100; v < 200; v++) publish(`r2:${v}`); // r1:5 is forgotten
    expect(await ended(board.wait({ topic: 'r1:5', since, ms: POLL }))).toBe(true);
    // marked after them, it waits
    const wait = follow(board.wait({ topic: 'r1:5', since: board.mark(), ms: POLL }));
    expect(await wait.at(POLL - 1)).toBe(false);
  });

  it('with until, ends a wait on the notice that makes it hold; noticedOf counts (all once forgotten)', async () => {
    const { board, publish } = channel();
    await board.listen('ch');
    const since = board.mark();
    const keys = ['k0', 'k1', 'k2'];
    const wait = follow(board.wait({ since, ms: POLL, until: () => board.noticedOf(keys, since) >= 2 }));
    publish('k1');
    publish('other');
    expect(await wait.at(0)).toBe(false);
    publish('k2');
    expect(await wait.at(0)).toBe(true);
    expect(board.noticedOf(keys, since)).toBe(2);
    for (let v = 0; v < 100; v++) publish(`r2:${v}`); // k1 and k2 are forgotten
    expect(board.noticedOf(keys, since)).toBe(3);
    expect(board.noticedOf(keys, board.mark())).toBe(0);
  });

  it('ends a wait after its poll when no notice comes (a lost notice costs one poll)', async () => {
    const { board } = channel();
    // never subscribed: only the poll ends waits
    const wait = follow(board.wait({ topic: 'r1:5', since: board.mark(), ms: 50 }));
    expect(await wait.at(49)).toBe(false);
    expect(await wait.at(1)).toBe(true);
  });

  it('ends a wait when its signal aborts, and at once when it aborted already', async () => {
    const { board } = channel();
    await board.listen('ch');
    const ac = new AbortController();
    const wait = follow(board.wait({ since: board.mark(), ms: POLL, signal: ac.signal }));
    expect(await wait.at(10)).toBe(false);
    ac.abort();
    expect(await wait.at(0)).toBe(true);
    expect(await ended(board.wait({ topic: 'r1:5', since: board.mark(), ms: POLL, signal: ac.signal }))).toBe(true);
  });

  it('subscribes once; after close it opens no connection and waits poll', async () => {
    const { board, opened, publish } = channel();
    await Promise.all([board.listen('ch'), board.listen('ch')]);
    await board.listen('ch');
    expect(opened).toEqual(['ch']);
    expect(() => board.listen('other')).toThrow(/hears one channel: ch, not other/);
    await board.close();
    await board.close();
    const closed = channel();
    await closed.board.close();
    await closed.board.listen('ch');
    expect(closed.opened).toEqual([]);
    const wait = follow(closed.board.wait({ topic: 'r1:5', since: closed.board.mark(), ms: 50 }));
    publish('r1:5'); // another board's channel
    expect(await wait.at(49)).toBe(false);
    expect(await wait.at(1)).toBe(true);
  });

  it('reports a failed subscription to the first caller only; later ones poll', async () => {
    const { board } = channel(async () => {
      throw new Error('connection refused');
    });
    await expect(board.listen('ch')).rejects.toThrow(/connection refused/);
    await expect(board.listen('ch')).resolves.toBeUndefined();
  });
});
