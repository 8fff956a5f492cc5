// Dominant speaker detection from RFC 6464 audio levels (the level, not the V flag: Chromium sets
// V on every packet). In the spirit of Volfin & Cohen's dominant speaker identification: speech
// activity is measured per participant on a short and a medium time scale, and the dominant
// speaker changes only when another participant is clearly and persistently more active, so the
// choice does not flap between people talking over each other or on short noises.

interface Activity {
  trackSid: string;
  publisherSid: string;
  /** Exponential averages of per-packet activity (0..1) on two time scales. */
  short: number;
  medium: number;
  lastUpdate: number;
  /** Consecutive decisions this participant has out-scored the current dominant one. */
  lead: number;
}

/** A level (−dBov) below this counts as voice; Chromium's silence reads 127. */
const VOICE_LEVEL = 60;
const SHORT_TAU_MS = 300;
const MEDIUM_TAU_MS = 1500;
/** The challenger needs this much more activity than the incumbent ... */
const HYSTERESIS = 1.5;
/** ... for this many consecutive decisions. */
const LEAD_DECISIONS = 2;
/** Below this medium-term activity nobody is speaking. */
const SPEECH_FLOOR = 0.15;

export class SpeakerDetector {
  private readonly tracks = new Map<string, Activity>();
  private dominant: string | null = null;

  /** One audio packet's level from the ssrc-audio-level extension (0 = loudest, 127 = silence). */
  onLevel(trackSid: string, publisherSid: string, level: number, now: number): void {
    let a = this.tracks.get(trackSid);
    if (!a) {
      a = { trackSid, publisherSid, short: 0, medium: 0, lastUpdate: now, lead: 0 };
      this.tracks.set(trackSid, a);
    }
    const sample = level <= VOICE_LEVEL ? Math.min(1, (VOICE_LEVEL - level) / 30 + 0.5) : 0;
    const dt = Math.max(1, now - a.lastUpdate);
    a.short += (sample - a.short) * (1 - Math.exp(-dt / SHORT_TAU_MS));
    a.medium += (sample - a.medium) * (1 - Math.exp(-dt / MEDIUM_TAU_MS));
    a.lastUpdate = now;
  }

  removeTrack(trackSid: string): void {
    const a = this.tracks.get(trackSid);
    this.tracks.delete(trackSid);
    if (a && a.publisherSid === this.dominant && ![...this.tracks.values()].some((t) => t.publisherSid === a.publisherSid)) this.dominant = null;
  }

  /** Called a few times a second; returns the new dominant speaker's participant SID on a change. */
  decide(now: number): string | null | undefined {
    let best: Activity | null = null;
    for (const a of this.tracks.values()) {
      // A track that stopped sending decays as silence.
      if (now - a.lastUpdate > 200) this.onLevel(a.trackSid, a.publisherSid, 127, now);
      if (!best || a.medium + a.short > best.medium + best.short) best = a;
    }
    if (!best || best.medium < SPEECH_FLOOR) {
      for (const a of this.tracks.values()) a.lead = 0;
      return undefined; // nobody speaking: the last dominant speaker stays
    }
    if (best.publisherSid === this.dominant) {
      for (const a of this.tracks.values()) a.lead = 0;
      return undefined;
    }
    const incumbent = [...this.tracks.values()].find((a) => a.publisherSid === this.dominant);
    const incumbentScore = incumbent ? incumbent.medium + incumbent.short : 0;
    if (incumbent && best.medium + best.short < incumbentScore * HYSTERESIS) {
      best.lead = 0;
      return undefined;
    }
    best.lead++;
    if (incumbent && best.lead < LEAD_DECISIONS) return undefined;
    for (const a of this.tracks.values()) a.lead = 0;
    this.dominant = best.publisherSid;
    return this.dominant;
  }

  get current(): string | null {
    return this.dominant;
  }
}
