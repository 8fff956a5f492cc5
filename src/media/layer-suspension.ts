// Simulcast layers a publisher keeps dropping by itself.
//
// A publisher whose uplink estimate hovers around what its top layer needs starts and stops that
// layer every few seconds. Each start is a keyframe burst that, on a narrow uplink, holds the
// lower layers' packets back for hundreds of milliseconds (their viewers freeze), and each stop
// freezes the viewers that had been moved onto it. Where the publisher takes hints (twilio-video's
// adaptive simulcast), the SFU asks it to leave such a layer off for a while, longer each time
// the layer fails again, and then lets it try again. A single drop (a CPU spike, one dip of the
// estimate) suspends nothing: only a layer that drops again soon after it came back.

/** A drop this soon after the layer was last down (or after the end of its suspension) is a repeat. */
export const REPEAT_WINDOW_MS = 20_000;
/** The first suspension of a layer that dropped again. */
export const FIRST_SUSPENSION_MS = 15_000;
/** Each further repeat doubles the suspension, up to this. */
export const MAX_SUSPENSION_MS = 60_000;

export class LayerSuspensions {
  private lastDropAt: number[] = [];
  private until: number[] = [];
  /** Suspensions in a row: repeats since the layer last held for REPEAT_WINDOW_MS. */
  private streak: number[] = [];

  /**
   * The publisher dropped `layer` by itself (it was flowing until now). Returns until when (ms)
   * the layer is suspended, or 0 if this drop suspends nothing (the first in a while).
   */
  dropped(layer: number, now: number): number {
    const last = Math.max(this.lastDropAt[layer] ?? -Infinity, this.until[layer] ?? -Infinity);
    this.lastDropAt[layer] = now;
    if (now - last > REPEAT_WINDOW_MS) {
      this.streak[layer] = 0;
      return 0;
    }
    const streak = this.streak[layer] ?? 0;
    this.streak[layer] = streak + 1;
    this.until[layer] = now + Math.min(MAX_SUSPENSION_MS, FIRST_SUSPENSION_MS * 2 ** streak);
    return this.until[layer]!;
  }

  /** The layer is still down (since its drop): a repeat is measured from its last moment down. */
  stillDown(layer: number, now: number): void {
    this.lastDropAt[layer] = now;
  }

  suspended(layer: number, now: number): boolean {
    return now < (this.until[layer] ?? 0);
  }

  /** New streams (the publisher's layers changed): nothing is known about them. */
  clear(): void {
    this.lastDropAt = [];
    this.until = [];
    this.streak = [];
  }
}
