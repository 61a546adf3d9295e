/**
 * The demo clock: demo time runs `speed` times faster than the wall clock, from the moment it is
 * created. The operator takes it as its injected clock (`startLocalOperator({ clock })`), so the
 * example's declared policy (1-minute canary steps, a drift check every 10 minutes over a 1-hour
 * window) plays out in seconds without changing a single declared number.
 *
 * The model server and its payload log keep wall-clock time, so everything that reads the payload
 * log over a demo-time window maps the window back with `toReal` first.
 */
export class DemoClock {
  /**
   * @param speed demo milliseconds per wall-clock millisecond
   * @param startReal the wall-clock moment the clock starts
   * @param startDemo the demo time at that moment (the demo picks one just before a scheduled drift check)
   */
  constructor(
    readonly speed: number,
    readonly startReal = Date.now(),
    readonly startDemo = startReal,
  ) {
    if (!(speed >= 1)) throw new Error(`demo clock speed must be 1 or more; got ${speed}`);
  }

  /** Demo time (ms since the epoch) for a wall-clock time. */
  toDemo(realMs: number): number {
    return this.startDemo + (realMs - this.startReal) * this.speed;
  }

  /** Wall-clock time for a demo time. */
  toReal(demoMs: number): number {
    return this.startReal + (demoMs - this.startDemo) / this.speed;
  }

  /** Now, in demo time. Bound, so it can be passed as `clock`. */
  readonly now = (): number => this.toDemo(Date.now());
}
