// How much the server may send to one subscriber (bps), from what the subscriber's browser tells
// us about the packets we send it. Modelled on GCC (draft-ietf-rmcat-gcc-02), simplified:
//
// - transport-cc feedback (Chromium sends it for our streams: we negotiate the extension and
//   werift numbers our outgoing packets per transport): per packet received or lost, and when.
//   From it: the loss fraction, the acknowledged (delivered) bitrate, and the queuing delay (one-way
//   delay above its minimum over the last 10 s, smoothed).
// - RTCP receiver reports for our SSRCs: the loss fraction, used when no transport-cc arrives.
// - REMB, if a client sends it: a cap.
//
// The controller, run every few hundred ms (update):
// - loss > 10 %: decrease to min(estimate, delivered) × (1 − loss/2), at least 15 % down, at most
//   once per 300 ms;
// - queuing delay above 80 ms in two updates running while it grows (10 ms or more over two
//   updates) or is above 160 ms (not a path that just got longer), or above 160 ms in one update
//   while we send 20 % more than is delivered (a queue is building): down to 85 % of delivered;
// - loss < 2 % and no queue: increase 5 %/s (50 %/s while starting, until the first congestion
//   signal), up to a ceiling the caller gives (about twice what the subscriber could use);
// - in between: hold.
// All times are milliseconds on one monotonic clock (performance.now() in production).

/** The packets one transport-cc feedback reports, as parallel arrays (rtcp/transport-cc-report.ts). */
export interface TwccPackets {
  length: number;
  /** Transport-wide sequence numbers (16 bits). */
  seq: ArrayLike<number>;
  /** Arrival times at the receiver (its clock, ms); NaN if reported lost. */
  arrivalMs: ArrayLike<number>;
}

export interface EstimatorOptions {
  initialBps: number;
  minBps: number;
  maxBps: number;
}

const DEFAULTS: EstimatorOptions = { initialBps: 2_500_000, minBps: 100_000, maxBps: 50_000_000 };

const HIGH_LOSS = 0.1;
/**
 * Loss is judged over at least this long and this many packets (or 2 × LOSS_WINDOW_MS): over 20
 * packets, 5 % random loss shows as 15 % in about one window of thirteen and, cut after cut (loss
 * between 2 and 10 % never raises the estimate), held it at its floor on a link that carries far
 * more; over 40 it still did in about one window of fourteen at the lowest layer's packet rate
 * (a 5 % loss / 200 ms link: 2.5 Mbit/s down to 100 kbit/s within seconds); over 100, one in ninety.
 */
const LOSS_WINDOW_MS = 1000;
const LOSS_WINDOW_PACKETS = 100;
const LOW_LOSS = 0.02;
const INCREASE_PER_S = 1.05;
const STARTUP_INCREASE_PER_S = 1.5;
const DECREASE_INTERVAL_MS = 300;
const OVERUSE_DELAY_MS = 80;
/**
 * A queue over OVERUSE_DELAY_MS counts only while it grew by at least this much (ms) over the last
 * QUEUE_GROWTH_UPDATES updates, or is twice as long. (Sent against delivered rate does not tell:
 * when the subscriber's link loses 5 %, its transport-cc feedback loses 5 % too, and those packets
 * are never acknowledged; with the noise of the arrival rate the ratio read 1.3.)
 */
const QUEUE_GROWTH_MS = 10;
const QUEUE_GROWTH_UPDATES = 2;
/** Consecutive updates with the queue above the threshold before it counts as overuse. */
const OVERUSE_UPDATES = 2;
/** Time constant of the queuing-delay average: short, so a sudden bottleneck is seen in ~2 updates. */
const QUEUE_SMOOTHING_MS = 250;
const FEEDBACK_FRESH_MS = 2000;
const MIN_DELAY_WINDOW_MS = 10_000;
const SEQ_SPACE = 65536;
/** Retransmissions may use this share of the estimate, in bursts of at most this many bytes. */
const RETRANSMIT_SHARE = 0.15;
const RETRANSMIT_BURST_BYTES = 30_000;
/** The arrival-rate window must span at least this much of the receiver's clock. */
const MIN_ARRIVAL_SPAN_MS = 150;
/** Time constant of the sent and delivered bitrate averages. */
const RATE_SMOOTHING_MS = 500;

export class DownlinkEstimator {
  private estimate: number;
  private startup = true;
  private readonly opts: EstimatorOptions;
  // sent packets by transport-wide sequence number
  private readonly sentAt = new Float64Array(SEQ_SPACE);
  private readonly sentBytes = new Uint16Array(SEQ_SPACE);
  /** 1 once a packet was reported lost: a later "received" for it is a retransmission (or very late). */
  private readonly reportedLost = new Uint8Array(SEQ_SPACE);
  private sentSinceUpdate = 0;
  // transport-cc accumulators (since the last update that used them)
  private twccLost = 0;
  private twccTotal = 0;
  private ackedBytes = 0;
  /** Packets received since the last update, by the receiver's clock: the rate the bottleneck lets through. */
  private arrivalBytes = 0;
  private firstArrival = Infinity;
  private lastArrival = -Infinity;
  /** That rate at the last update with enough of a window (bps); 0 = none. */
  private arrivalRate = 0;
  private lastTwccAt = -Infinity;
  private lossWindowStart = 0;
  private delaySum = 0;
  private delayCount = 0;
  /** Minimum one-way delay (receiver clock − our clock) per 1 s bucket, last 10 s. */
  private readonly minDelay: { bucket: number; min: number }[] = [];
  private queueDelay = 0;
  /** queueDelay at the last QUEUE_GROWTH_UPDATES updates, oldest first. */
  private readonly queueBefore: number[] = [];
  private overuseCount = 0;
  // receiver-report accumulators
  private rrLost = 0;
  private rrExpected = 0;
  private readonly rrHighest = new Map<number, number>();
  private remb: { bps: number; at: number } | null = null;
  // rates
  private ackedRate = 0;
  private sentRate = 0;
  private lastUpdate: number | null = null;
  private lastDecrease = -Infinity;
  private lastLoss: number | null = null;
  decreases = 0;
  private rtxTokens = RETRANSMIT_BURST_BYTES;
  private rtxRefilledAt = 0;

  constructor(options: Partial<EstimatorOptions> = {}) {
    this.opts = { ...DEFAULTS, ...options };
    this.estimate = this.opts.initialBps;
  }

  get value(): number {
    return this.estimate;
  }

  /** The estimate was cut for congestion within the last `ms`. */
  congestedWithin(now: number, ms: number): boolean {
    return now - this.lastDecrease <= ms;
  }

  /** The smoothed queuing delay toward the subscriber (ms), from transport-cc. */
  get queueDelayMs(): number {
    return this.queueDelay;
  }

  /** No congestion signal seen yet (the estimate is still ramping up from its initial guess). */
  get startingUp(): boolean {
    return this.startup;
  }

  /**
   * May `bytes` of retransmissions go out now? A token bucket refilled at RETRANSMIT_SHARE of
   * the estimate: under loss the subscriber asks for many packets again, and resending all of
   * them on a link that is already full only makes the loss worse.
   */
  allowRetransmission(bytes: number, now: number): boolean {
    const rate = (this.estimate * RETRANSMIT_SHARE) / 8 / 1000; // bytes per ms
    this.rtxTokens = Math.min(RETRANSMIT_BURST_BYTES, this.rtxTokens + (now - this.rtxRefilledAt) * rate);
    this.rtxRefilledAt = now;
    if (this.rtxTokens < bytes) return false;
    this.rtxTokens -= bytes;
    return true;
  }

  /** One packet sent to the subscriber with this transport-wide sequence number (per-packet path: cheap). */
  onPacketSent(seq: number, bytes: number, now: number): void {
    const i = seq & 0xffff;
    this.sentAt[i] = now;
    this.sentBytes[i] = bytes > 0xffff ? 0xffff : bytes;
    this.reportedLost[i] = 0;
    this.sentSinceUpdate += bytes;
  }

  onTransportFeedback(report: TwccPackets, now: number): void {
    let any = false;
    for (let k = 0; k < report.length; k++) {
      const i = report.seq[k]! & 0xffff;
      const arrivalMs = report.arrivalMs[k]!;
      const sent = this.sentAt[i]!;
      if (sent === 0 || now - sent > MIN_DELAY_WINDOW_MS) continue; // not ours, or long ago
      any = true;
      if (!Number.isFinite(arrivalMs)) {
        if (this.reportedLost[i] === 0) {
          this.twccTotal++;
          this.twccLost++;
          this.reportedLost[i] = 1;
        }
        continue;
      }
      this.sentAt[i] = 0; // reported received: never count it twice
      this.ackedBytes += this.sentBytes[i]!;
      // werift retransmits (RTX) with the original transport-wide number: such an arrival says
      // nothing about the queue (it was sent much later than recorded).
      if (this.reportedLost[i] === 1) continue;
      this.twccTotal++;
      if (arrivalMs < this.firstArrival) this.firstArrival = arrivalMs;
      else this.arrivalBytes += this.sentBytes[i]!; // the first packet only opens the window
      if (arrivalMs > this.lastArrival) this.lastArrival = arrivalMs;
      const delay = arrivalMs - sent;
      const base = this.updateMinDelay(delay, now);
      this.delaySum += delay - base;
      this.delayCount++;
    }
    if (any) this.lastTwccAt = now;
  }

  /** A report block about one of our SSRCs: fraction lost (0..1) and the extended highest sequence number. */
  onReceiverReport(ssrc: number, fractionLost: number, highestSeq: number, _now: number): void {
    const previous = this.rrHighest.get(ssrc);
    this.rrHighest.set(ssrc, highestSeq);
    if (previous === undefined) return;
    const expected = highestSeq - previous;
    if (expected <= 0 || expected > 100_000) return;
    this.rrExpected += expected;
    this.rrLost += Math.round(expected * Math.min(1, Math.max(0, fractionLost)));
  }

  onRemb(bps: number, now: number): void {
    if (bps > 0 && Number.isFinite(bps)) this.remb = { bps, at: now };
  }

  /**
   * Runs the controller; `ceiling` bounds increases (about twice what the subscriber could use:
   * no point probing beyond). Returns the estimate.
   */
  update(now: number, ceiling: number = this.opts.maxBps): number {
    if (this.lastUpdate === null) {
      this.lastUpdate = now;
      this.lossWindowStart = now;
      this.sentSinceUpdate = 0;
      this.ackedBytes = 0;
      return this.estimate;
    }
    const dt = Math.max(1, now - this.lastUpdate);
    this.lastUpdate = now;
    const smooth = (old: number, sample: number) => (old === 0 ? sample : old + (sample - old) * Math.min(1, dt / RATE_SMOOTHING_MS));
    this.sentRate = smooth(this.sentRate, (this.sentSinceUpdate * 8 * 1000) / dt);
    this.sentSinceUpdate = 0;
    const twcc = now - this.lastTwccAt < FEEDBACK_FRESH_MS;
    if (twcc) this.ackedRate = smooth(this.ackedRate, (this.ackedBytes * 8 * 1000) / dt);
    this.ackedBytes = 0;
    const span = this.lastArrival - this.firstArrival;
    if (twcc && span >= MIN_ARRIVAL_SPAN_MS) {
      this.arrivalRate = (this.arrivalBytes * 8 * 1000) / span;
      this.arrivalBytes = 0;
      this.firstArrival = Infinity;
      this.lastArrival = -Infinity;
    }
    if (this.delayCount > 0) {
      const sample = this.delaySum / this.delayCount;
      this.queueDelay += (sample - this.queueDelay) * Math.min(1, dt / QUEUE_SMOOTHING_MS);
      this.delaySum = 0;
      this.delayCount = 0;
    }
    this.overuseCount = twcc && this.queueDelay > OVERUSE_DELAY_MS ? this.overuseCount + 1 : 0;

    // Loss over a window of at least LOSS_WINDOW_MS and LOSS_WINDOW_PACKETS (or 2 × LOSS_WINDOW_MS),
    // from transport-cc if it flows, else receiver reports.
    let loss: number | null = null;
    if (twcc) {
      const age = now - this.lossWindowStart;
      if ((this.twccTotal >= LOSS_WINDOW_PACKETS && age >= LOSS_WINDOW_MS) || (this.twccTotal > 0 && age >= 2 * LOSS_WINDOW_MS)) {
        loss = this.twccLost / this.twccTotal;
        this.twccLost = this.twccTotal = 0;
        this.lossWindowStart = now;
      }
      this.rrLost = this.rrExpected = 0;
    } else if (this.rrExpected > 0) {
      loss = this.rrLost / this.rrExpected;
      this.rrLost = this.rrExpected = 0;
    }
    if (loss !== null) this.lastLoss = loss;

    // What got through: the smoothed acknowledged rate lags a sudden bottleneck by its time
    // constant; the rate at which packets arrived lately (receiver's clock) does not.
    const delivered = twcc && this.ackedRate > 0 ? (this.arrivalRate > 0 ? Math.min(this.ackedRate, this.arrivalRate) : this.ackedRate) : this.sentRate * (1 - (loss ?? 0));
    // A clear queue that grows while less is delivered than sent is answered at once: on a link
    // whose buffer is a few hundred ms, waiting for a second update lets it overflow.
    const clearQueue = twcc && this.queueDelay > 2 * OVERUSE_DELAY_MS && delivered > 0 && this.sentRate > 1.2 * delivered;
    // A queue that is neither long nor growing is not congestion: the path got longer (a link
    // turning slow by 100 ms one way looks like a 100 ms queue for the delay minimum's 10 s
    // window), and cutting on it cut to the floor.
    const growing = this.queueBefore.length === QUEUE_GROWTH_UPDATES && this.queueDelay >= this.queueBefore[0]! + QUEUE_GROWTH_MS;
    const queueMatters = this.queueDelay > 2 * OVERUSE_DELAY_MS || growing;
    this.queueBefore.push(this.queueDelay);
    if (this.queueBefore.length > QUEUE_GROWTH_UPDATES) this.queueBefore.shift();
    const overuse = (this.overuseCount >= OVERUSE_UPDATES && queueMatters) || clearQueue;
    const canDecrease = now - this.lastDecrease >= DECREASE_INTERVAL_MS;
    if (loss !== null && loss > HIGH_LOSS) {
      if (canDecrease) {
        const base = delivered > 0 ? Math.min(this.estimate, delivered) : this.estimate;
        this.estimate = base * Math.min(0.85, 1 - loss / 2);
        this.congested(now);
      }
    } else if (overuse) {
      if (canDecrease) {
        this.estimate = Math.min(this.estimate, 0.85 * (delivered > 0 ? delivered : this.estimate));
        this.congested(now);
      }
    } else if ((this.lastLoss === null || this.lastLoss < LOW_LOSS) && !(twcc && this.queueDelay > OVERUSE_DELAY_MS / 2)) {
      // (between loss windows, the last window's loss decides)
      const rate = this.startup ? STARTUP_INCREASE_PER_S : INCREASE_PER_S;
      const limit = Math.min(ceiling, this.opts.maxBps);
      if (this.estimate < limit) this.estimate = Math.min(limit, this.estimate * rate ** (dt / 1000) + 10_000 * (dt / 1000));
    }
    if (this.remb && now - this.remb.at < FEEDBACK_FRESH_MS) this.estimate = Math.min(this.estimate, this.remb.bps);
    this.estimate = Math.max(this.opts.minBps, Math.min(this.opts.maxBps, this.estimate));
    return this.estimate;
  }

  stats() {
    return {
      estimate: Math.round(this.estimate),
      startup: this.startup,
      ackedRate: Math.round(this.ackedRate),
      arrivalRate: Math.round(this.arrivalRate),
      sentRate: Math.round(this.sentRate),
      queueDelayMs: Math.round(this.queueDelay),
      loss: this.lastLoss,
      decreases: this.decreases,
    };
  }

  private congested(now: number): void {
    this.lastDecrease = now;
    this.startup = false;
    this.decreases++;
  }

  private updateMinDelay(delay: number, now: number): number {
    const bucket = Math.floor(now / 1000);
    const last = this.minDelay[this.minDelay.length - 1];
    if (last && last.bucket === bucket) last.min = Math.min(last.min, delay);
    else this.minDelay.push({ bucket, min: delay });
    while (this.minDelay.length > 0 && this.minDelay[0]!.bucket <= bucket - MIN_DELAY_WINDOW_MS / 1000) this.minDelay.shift();
    let min = Infinity;
    for (const b of this.minDelay) if (b.min < min) min = b.min;
    return min;
  }
}
