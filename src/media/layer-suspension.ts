// Simulcast layers a publisher keeps dropping by itself.
//
// A publisher whose uplink estimate hovers around what its top layer needs starts and stops that
// layer every few seconds. Each start is a keyframe burst that, on a narrow uplink, holds the
// lower layers' packets back for hundreds of milliseconds (their viewers freeze), and each stop
// freezes the viewers that had been moved onto it. Where the publisher takes hints (twilio-video's
// adaptive simulcast), the SFU asks it to leave such a layer off for a while, longer each time
// the layer fails again, and then lets it try again. A single drop (a CPU spike, one dip of the
// estimate) suspends nothing: only a layer that drops again soon after it came back, and stays
// down: a pause of a few hundred ms (a keyframe burst of another layer) must not become a stop
// by our own hint.

/** A drop this soon after the layer was last down (or after the end of its suspension) is a repeat. */
export const REPEAT_WINDOW_MS = 20_000;
/** A repeated drop suspends the layer once it has been down this long. */
export const CONFIRM_DOWN_MS = 1500;
/** The first suspension of a layer that dropped again. */
export const FIRST_SUSPENSION_MS = 15_000;
/** Each further repeat doubles the suspension, up to this. */
export const MAX_SUSPENSION_MS = 60_000;

export class LayerSuspensions {
  /** Dropped by the publisher and not delivering since (see `up`). */
  private isDown: boolean[] = [];
  private lastDownAt: number[] = [];
  private downSince: number[] = [];
  /** The current drop came soon after the last one: it suspends the layer if it lasts. */
  private repeat: boolean[] = [];
  private until: number[] = [];
  /** Suspensions in a row: repeats since the layer last held for REPEAT_WINDOW_MS. */
  private streak: number[] = [];

  /**
   * The publisher has `layer` down (stopped by itself; called again at every allocation tick while
   * it stays down). The first call after `up` is the drop. Returns until when (ms) the layer is
   * suspended if this call suspended it, else 0.
   */
  down(layer: number, now: number): number {
    if (this.isDown[layer]) return this.stillDown(layer, now);
    this.isDown[layer] = true;
    this.dropped(layer, now);
    return 0;
  }

  /** The layer delivers (again). */
  up(layer: number): void {
    this.isDown[layer] = false;
  }

  private dropped(layer: number, now: number): void {
    const last = Math.max(this.lastDownAt[layer] ?? -Infinity, this.until[layer] ?? -Infinity);
    this.repeat[layer] = now - last <= REPEAT_WINDOW_MS;
    if (!this.repeat[layer]) this.streak[layer] = 0;
    this.downSince[layer] = now;
    this.lastDownAt[layer] = now;
  }

  /** Suspends a repeated drop once it has lasted CONFIRM_DOWN_MS. */
  private stillDown(layer: number, now: number): number {
    this.lastDownAt[layer] = now;
    if (!this.repeat[layer] || now - (this.downSince[layer] ?? now) < CONFIRM_DOWN_MS) return 0;
    this.repeat[layer] = false;
    const streak = this.streak[layer] ?? 0;
    this.streak[layer] = streak + 1;
    this.until[layer] = now + Math.min(MAX_SUSPENSION_MS, FIRST_SUSPENSION_MS * 2 ** streak);
    return this.until[layer]!;
  }

  suspended(layer: number, now: number): boolean {
    return now < (this.until[layer] ?? 0);
  }

  /** New streams (the publisher's layers changed): nothing is known about them. */
  clear(): void {
    this.isDown = [];
    this.lastDownAt = [];
    this.downSince = [];
    this.repeat = [];
    this.until = [];
    this.streak = [];
  }
}
