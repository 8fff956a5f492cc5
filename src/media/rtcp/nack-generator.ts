// Asks publishers to resend lost video packets (RFC 4585 generic NACK), tracked per SSRC so that
// simulcast layers' sequence numbers never mix (werift's receiver mixes them: defect 2 in the
// notes). Retransmissions arrive as RTX and are unwrapped by the router, which reports them here.

interface SsrcState {
  highest: number; // unwrapped
  /** Unwrapped seq → [first noticed missing (ms), times asked, last asked (ms)]. */
  missing: Map<number, [number, number, number]>;
  /** The last RECEIVED_WINDOW sequence numbers received (unwrapped, by seq modulo the window). */
  received: Float64Array;
}

/** Duplicates are recognised among this many recent sequence numbers. */
const RECEIVED_WINDOW = 1024;

/** Wait this long after noticing a gap before the first request (reordering is common). */
const FIRST_ASK_MS = 10;
/**
 * Ask again this often while a packet is still missing, or after a round trip and a bit when the
 * publisher is farther: Chromium resends a packet at most once per round trip, so asking sooner
 * is ignored, and on a 200 ms link five asks 100 ms apart made only two or three real attempts;
 * with 5 % loss each way about one lost packet in a thousand was never repaired.
 */
const REASK_MS = 100;
const REASK_MARGIN_MS = 20;
const MAX_ASKS = 5;
/** Give up on a packet older than this (the frame is long gone). */
const GIVE_UP_MS = 1000;
/** Larger gaps are an outage or a stream restart, not loss worth repairing. */
const MAX_GAP = 300;

/** The uplink loss is judged over at least this many packets. */
const LOSS_MIN_PACKETS = 50;

/**
 * Repair round trips (one ask → its retransmission) are kept this long (ms) ... and at most this
 * many; at least REPAIR_MIN_SAMPLES make an estimate.
 */
const REPAIR_WINDOW_MS = 2000;
const REPAIR_MAX_SAMPLES = 32;
const REPAIR_MIN_SAMPLES = 3;

export class NackGenerator {
  private readonly streams = new Map<number, SsrcState>();
  /** Since the last lossSinceLastCall: packets that came in order, and the gaps before them. */
  private arrived = 0;
  private gaps = 0;
  /** Recent repair round trips: [when (ms), one ask → its retransmission (ms)], oldest first. */
  private readonly repairs: [number, number][] = [];

  /**
   * Records a packet; returns false for one already received (or given up on): a duplicate must
   * not be forwarded. Chromium pads for bandwidth probing by resending old packets on RTX, which
   * unwrapped look like fresh ones; forwarded, they are dropped by the subscriber's SRTP replay
   * check (and counted as sent), and they inflate the layer's measured bitrate.
   */
  onPacket(ssrc: number, seq16: number, now: number): boolean {
    let s = this.streams.get(ssrc);
    if (!s) {
      s = { highest: seq16, missing: new Map(), received: new Float64Array(RECEIVED_WINDOW).fill(NaN) };
      s.received[seq16 % RECEIVED_WINDOW] = seq16;
      this.streams.set(ssrc, s);
      return true;
    }
    // Unwrap against the highest seen so far.
    const base = s.highest - (s.highest & 0xffff);
    let seq = base + seq16;
    if (seq - s.highest > 0x8000) seq -= 0x10000;
    else if (s.highest - seq > 0x8000) seq += 0x10000;
    const slot = ((seq % RECEIVED_WINDOW) + RECEIVED_WINDOW) % RECEIVED_WINDOW;
    if (seq > s.highest) {
      const gap = seq - s.highest - 1;
      this.arrived++;
      if (gap > MAX_GAP) s.missing.clear();
      else {
        this.gaps += gap;
        for (let m = s.highest + 1; m < seq; m++) s.missing.set(m, [now, 0, 0]);
      }
      s.highest = seq;
      s.received[slot] = seq;
      return true;
    }
    // A late or retransmitted packet fills its hole (even after we stopped asking for it); one
    // already received, or older than the window, is a duplicate.
    const entry = s.missing.get(seq);
    // Asked once: the time since the ask is the repair's round trip (after more asks it is not
    // known which one was answered).
    if (entry && entry[1] === 1) this.addRepair(now, now - entry[2]);
    s.missing.delete(seq);
    if (s.highest - seq >= RECEIVED_WINDOW || s.received[slot] === seq) return false;
    s.received[slot] = seq;
    return true;
  }

  /**
   * Sequence numbers to ask for now, per SSRC (16-bit, as they go on the wire). `roundTripMs`:
   * the publisher's, if known (spaces the asks). `abandoned` collects the SSRCs on which a packet
   * was given up: that stream cannot be decoded past it until its next keyframe.
   */
  due(now: number, roundTripMs: number | null = null, abandoned?: Set<number>): Map<number, number[]> {
    const out = new Map<number, number[]>();
    const reask = Math.max(REASK_MS, (roundTripMs ?? 0) + REASK_MARGIN_MS);
    for (const [ssrc, s] of this.streams) {
      for (const [seq, entry] of s.missing) {
        const [noticed, asks, lastAsked] = entry;
        if (now - noticed > GIVE_UP_MS || (asks >= MAX_ASKS && now - lastAsked >= reask)) {
          s.missing.delete(seq);
          abandoned?.add(ssrc);
          continue;
        }
        if ((asks === 0 && now - noticed >= FIRST_ASK_MS) || (asks > 0 && asks < MAX_ASKS && now - lastAsked >= reask)) {
          entry[1] = asks + 1;
          entry[2] = now;
          let list = out.get(ssrc);
          if (!list) out.set(ssrc, (list = []));
          list.push(seq & 0xffff);
        }
      }
    }
    return out;
  }

  /**
   * The share of the publisher's video packets that did not come the first time (before any
   * retransmission), since the last call that returned a value; null while fewer than
   * LOSS_MIN_PACKETS were seen.
   */
  lossSinceLastCall(): number | null {
    const total = this.arrived + this.gaps;
    if (total < LOSS_MIN_PACKETS) return null;
    const loss = this.gaps / total;
    this.arrived = this.gaps = 0;
    return loss;
  }

  /**
   * The publisher's round trip as its repairs show it (ms): the median over the last
   * REPAIR_WINDOW_MS of an ask to the retransmission it brought; null with fewer than
   * REPAIR_MIN_SAMPLES. On a lossy link this follows a change within a few hundred ms, where
   * receiver reports take a second or two.
   */
  repairRoundTripMs(now: number): number | null {
    const r = this.repairs;
    while (r.length > 0 && now - r[0]![0] > REPAIR_WINDOW_MS) r.shift();
    if (r.length < REPAIR_MIN_SAMPLES) return null;
    const sorted = r.map((x) => x[1]).sort((a, b) => a - b);
    return sorted[sorted.length >> 1]!;
  }

  private addRepair(now: number, ms: number): void {
    this.repairs.push([now, ms]);
    if (this.repairs.length > REPAIR_MAX_SAMPLES) this.repairs.shift();
  }

  forget(ssrc: number): void {
    this.streams.delete(ssrc);
  }
}
