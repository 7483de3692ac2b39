/** Seconds since the clock was made or last read: the step drivers time their phases with it. */
export function lapClock(): () => number {
  let last = process.hrtime.bigint();
  return () => {
    const now = process.hrtime.bigint();
    const seconds = Number(now - last) / 1e9;
    last = now;
    return seconds;
  };
}
