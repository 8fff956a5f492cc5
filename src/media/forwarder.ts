// Forwards one published track to one subscriber. For simulcast the SfuRoom's allocation timer
// sets the target layer (layer-allocator.ts); the forwarder switches to it only at a keyframe of
// that layer, asking the publisher for one, and keeps forwarding the current layer until then.
// The keyframe's packets are held until it is complete (pending-keyframe.ts), and go out whole.
// The sender keeps SSRC, sequence numbers and timestamps continuous across switches. Switching
// down is immediate; switching up (or back on) needs the new choice to hold for a while, so a
// fluctuating budget does not make the layer flap.
import type { RTCRtpTransceiver, RtpPacket } from 'werift';
import type { PeerTransport } from './peer-transport.js';
import type { PublishedMedia } from './sfu-room.js';
import { isH264Keyframe, isVp8Keyframe } from './keyframes.js';
import { PendingKeyframe } from './pending-keyframe.js';
import { TemporalFilter } from './temporal-layers.js';
import { captureStep, type SenderClock } from './capture-clock.js';

/** While waiting for a keyframe to start or switch, ask again this often. */
const KEYFRAME_RETRY_MS = 500;
/** After a congestion stop, the new layer's keyframe is asked for once the queue has drained (at most this long). */
const MAX_DRAIN_WAIT_MS = 1000;
/** A higher layer (or switching back on) must be chosen this long before we switch. */
export const UPGRADE_HOLD_MS = 1000;
/** A keyframe still incomplete after this long is given up, and another asked for. */
const MAX_KEYFRAME_WAIT_MS = 1500;
/**
 * For this long after a switch, packets of the new layer from before the keyframe we switched at
 * (retransmissions that arrive late) are dropped: numbered on from our last packet, they would
 * land on sequence numbers the subscriber already had from the previous layer.
 */
const SWITCH_GUARD_MS = 3000;

export class Forwarder {
  /** The layer being sent; -1 until the first keyframe of a chosen layer. */
  private layer = -1;
  private targetLayer = -1;
  /** The allocation's latest choice (may still be waiting out the upgrade hold); -1 = none or off. */
  private desiredLayer = -1;
  /** An upgrade waiting out UPGRADE_HOLD_MS: the layer (or -2 for "back on") and since when. */
  private pendingUp: { layer: number; since: number } | null = null;
  private forwarded = 0;
  private dropped = 0;
  private lastKeyframeAsk = 0;
  /** The subscriber renders this track this tall (render hints); 0 = unknown. */
  private renderHeight = 0;
  /** Switched off by the subscriber (render hint enabled=false). */
  private paused = false;
  /** Switched off by the server: no bandwidth for it (or beyond maxTracks). */
  private budgetOff = false;
  /** What the subscriber was last told (track_switch_off), so each change is said once. */
  announcedOff = false;
  /** Subscriber's priority for this track (track_priority channel), null = none set. */
  subscriberPriority: string | null = null;
  private keyframeRequestsFromSubscriber = 0;
  /** When the current switch was decided (ms), for the switch latency; 0 = none pending. */
  private switchDecidedAt = 0;
  private switches = 0;
  private lastSwitchMs = -1;
  private lastSwitchAt = 0;
  /** While waiting to switch: the newest sequence number seen on the target layer (-1 = none). */
  private waitingHighestSeq = -1;
  /** When the last video packet went out (ms); 0 = never: a new stretch then continues from it. */
  private lastSentAt = 0;
  /** That packet's timestamp as the publisher sent it, and its layer. */
  private lastSentTs = 0;
  private lastSentLayer = -1;
  /** The target layer's keyframe, held until complete. */
  private readonly pending = new PendingKeyframe();
  /** The input sequence number the current stretch started at, and until when older ones are dropped. */
  private switchSeq = 0;
  private switchGuardUntil = 0;
  /** VP8 temporal layers left out when even the lowest layer's full frame rate does not fit. */
  private readonly temporal = new TemporalFilter();

  private readonly sender: { canSendRtp(): boolean };
  /**
   * Minimum playout delay to ask the subscriber for (ms; 0 = none): set when the publisher is far
   * away, so that a packet it lost and resent still arrives before the subscriber plays its frame.
   */
  playoutDelayMs = 0;

  constructor(
    private readonly track: PublishedMedia,
    private readonly transport: PeerTransport,
    readonly transceiver: RTCRtpTransceiver,
    /** Asks the publisher for a keyframe of one layer (all layers when omitted). */
    private readonly requestKeyframe: (layer?: number) => void,
    /** The publisher's last sender report for a layer's stream, if any (capture-clock.ts). */
    private readonly senderClock: (layer: number) => SenderClock | undefined = () => undefined,
  ) {
    this.sender = transceiver.sender as unknown as { canSendRtp(): boolean };
  }

  /** Render hints: a hidden track is switched off; the height feeds the layer choice. */
  setRenderHint(hint: { enabled?: boolean; height?: number }): void {
    if (hint.height !== undefined && hint.height > 0) this.renderHeight = hint.height;
    if (hint.enabled !== undefined && this.paused === hint.enabled) {
      this.paused = !hint.enabled;
      if (!this.switchedOff) this.resume();
    }
  }

  get height(): number {
    return this.renderHeight;
  }

  get switchedOff(): boolean {
    return this.paused || this.budgetOff;
  }

  get hiddenBySubscriber(): boolean {
    return this.paused;
  }

  get currentLayer(): number {
    return this.layer;
  }

  get target(): number {
    return this.targetLayer;
  }

  get desired(): number {
    return this.desiredLayer;
  }

  /**
   * The allocation's choice. `upgrade`: the layer carries more bits than the current target
   * (then it must hold UPGRADE_HOLD_MS first, unless `immediate`: the current target stopped).
   * `stopNow`: the link is congested; stop sending the current layer at once rather than until
   * the new layer's keyframe (a short freeze instead of a queue that keeps growing). `queueMs`:
   * how long the bottleneck's queue is; the keyframe is asked for when it has drained, or the
   * keyframe lands in a full queue and is lost, and the picture stays frozen until the next one.
   */
  setTarget(layer: number, upgrade: boolean, now: number, immediate = false, stopNow = false, queueMs = 0): void {
    this.desiredLayer = layer;
    if (this.budgetOff) {
      // Back on only after the choice held; then start at the chosen layer's keyframe.
      if (!this.held(-2, now)) return;
      this.budgetOff = false;
      this.targetLayer = layer;
      this.waitingHighestSeq = -1;
      this.pending.clear();
      this.switchDecidedAt = now;
      if (!this.paused) this.resume(layer);
      return;
    }
    if (layer === this.targetLayer) {
      this.pendingUp = null;
      return;
    }
    if (upgrade && !immediate && this.targetLayer !== -1 && !this.held(layer, now)) return;
    this.pendingUp = null;
    this.targetLayer = layer;
    this.waitingHighestSeq = -1;
    this.pending.clear();
    this.switchDecidedAt = now;
    if (layer !== this.layer && !this.switchedOff) {
      if (stopNow && !upgrade && this.layer !== -1) {
        this.layer = -1;
        const wait = Math.min(MAX_DRAIN_WAIT_MS, Math.max(0, queueMs));
        if (wait > 0) {
          // forward() asks once KEYFRAME_RETRY_MS has passed since lastKeyframeAsk.
          this.lastKeyframeAsk = now + wait - KEYFRAME_RETRY_MS;
          return;
        }
      }
      this.lastKeyframeAsk = now;
      this.requestKeyframe(layer);
    }
  }

  /**
   * The highest VP8 temporal layer to forward (2 = all, 1 = half the frame rate, 0 = a quarter):
   * set by the allocation when even the lowest simulcast layer does not fit a congested downlink.
   */
  setTemporalTarget(layer: number): void {
    this.temporal.target = layer;
  }

  get temporalTarget(): number {
    return this.temporal.target;
  }

  /** No bandwidth for this track: stop forwarding it now. */
  switchOffForBudget(): void {
    this.pendingUp = null;
    this.desiredLayer = -1;
    this.budgetOff = true;
  }

  /** Keeps the budget switch-off (another allocation round said off again). */
  keepOff(): void {
    if (this.pendingUp?.layer === -2) this.pendingUp = null;
  }

  /** The subscriber lost the picture (PLI/FIR on our sending SSRC). */
  keyframeRequested(): void {
    this.keyframeRequestsFromSubscriber++;
    this.requestKeyframe(this.layer >= 0 ? this.layer : this.targetLayer >= 0 ? this.targetLayer : undefined);
  }

  forward(layer: number, rtp: RtpPacket): void {
    // Until the subscriber's transport is up and this section negotiated, packets would vanish
    // inside the stack (a lost keyframe leaves the subscriber frozen); video then starts at the
    // first keyframe after that.
    if (!this.sender.canSendRtp()) {
      this.dropped++;
      if (this.layer !== -1) this.layer = -1;
      this.pending.clear();
      return;
    }
    if (this.paused || this.budgetOff) {
      this.dropped++;
      return;
    }
    if (this.track.kind === 'audio') {
      this.forwarded++;
      this.transport.sendRtp(this.transceiver, rtp);
      return;
    }
    if (layer !== this.layer) {
      this.waitForKeyframe(layer, rtp);
      return;
    }
    if (this.switchGuardUntil !== 0 && ((rtp.header.sequenceNumber - this.switchSeq) & 0xffff) >= 0x8000) {
      if (Date.now() < this.switchGuardUntil) {
        this.dropped++;
        return;
      }
      this.switchGuardUntil = 0; // over: from here on the comparison would wrap
    }
    this.sendAdmitted(rtp);
  }

  /** Sends a packet of the current layer unless its temporal layer is left out. */
  private sendAdmitted(rtp: RtpPacket): void {
    if (!this.temporal.idle && this.track.codec === 'VP8' && !this.temporal.admits(rtp.payload)) {
      this.dropped++;
      this.transport.skipRtp(this.transceiver, rtp);
      return;
    }
    this.send(rtp);
  }

  private send(rtp: RtpPacket): void {
    this.forwarded++;
    this.lastSentAt = Date.now();
    this.lastSentTs = rtp.header.timestamp;
    this.lastSentLayer = this.layer;
    this.transport.sendRtp(this.transceiver, rtp, this.playoutDelayMs);
  }

  /**
   * A packet of a layer we do not send yet. Packets of the target layer are held from the first
   * packet of a keyframe on; once that keyframe is complete, the switch is made and all of them
   * go out in order. Anything else is dropped, and the keyframe asked for again now and then.
   */
  private waitForKeyframe(layer: number, rtp: RtpPacket): void {
    const now = Date.now();
    if (layer === this.targetLayer) {
      if (this.pending.active) {
        if (!this.pending.add(rtp)) this.dropped++;
      } else {
        // A keyframe's first packet that comes after later packets of its layer (repaired by a
        // retransmission) cannot start the hold: the rest of its frame was dropped already.
        const seq = rtp.header.sequenceNumber;
        const late = this.waitingHighestSeq >= 0 && ((seq - this.waitingHighestSeq) & 0xffff) >= 0x8000;
        if (!late) this.waitingHighestSeq = seq;
        if (!late && this.isKeyframe(rtp)) this.pending.start(rtp, now);
        else this.dropped++;
      }
      if (this.pending.complete) {
        this.switchTo(layer, now);
        return;
      }
      if (this.pending.active && (this.pending.full || now - this.pending.since > MAX_KEYFRAME_WAIT_MS)) {
        // Never completed (a retransmission lost again, or the publisher's history had gone on).
        this.dropped += this.pending.size;
        this.pending.clear();
        this.waitingHighestSeq = -1;
        this.lastKeyframeAsk = 0;
      }
      if (this.pending.active) return;
    } else {
      this.dropped++;
    }
    // Keep asking while we wait for the target: the publisher may have answered before we were ready.
    if (this.targetLayer !== this.layer && this.targetLayer !== -1 && now - this.lastKeyframeAsk > KEYFRAME_RETRY_MS) {
      this.lastKeyframeAsk = now;
      this.requestKeyframe(this.targetLayer);
    }
  }

  /** Starts the new stretch at the held keyframe and sends everything held. */
  private switchTo(layer: number, now: number): void {
    const held = this.pending.drain();
    const first = held[0]!;
    // Sequence numbers go on from the last packet sent, the timestamp by the capture time between
    // the two frames where the publisher's sender reports tell it, else by the time that passed
    // since (90 kHz video clock).
    if (this.lastSentAt !== 0) {
      const step = captureStep(this.senderClock(this.lastSentLayer), this.lastSentTs, this.senderClock(layer), first.header.timestamp, 90_000) ?? Math.max(1, Math.round((now - this.lastSentAt) * 90));
      this.transceiver.sender.replaceRTP(first.header, true, step);
    }
    this.layer = layer;
    this.waitingHighestSeq = -1;
    this.switchSeq = first.header.sequenceNumber;
    this.switchGuardUntil = now + SWITCH_GUARD_MS;
    this.switches++;
    this.lastSwitchAt = now;
    if (this.switchDecidedAt !== 0) {
      this.lastSwitchMs = this.lastSwitchAt - this.switchDecidedAt;
      this.switchDecidedAt = 0;
    }
    this.temporal.restart();
    for (const rtp of held) this.sendAdmitted(rtp);
  }

  stats() {
    return {
      layer: this.layer,
      targetLayer: this.targetLayer,
      forwarded: this.forwarded,
      dropped: this.dropped,
      plis: this.keyframeRequestsFromSubscriber,
      renderHeight: this.renderHeight,
      switchedOff: this.switchedOff,
      hiddenBySubscriber: this.paused,
      offForBandwidth: this.budgetOff,
      subscriberPriority: this.subscriberPriority,
      playoutDelayMs: this.playoutDelayMs,
      /** VP8 temporal layers forwarded (2 = all) and the allocation's target. */
      temporalLayer: this.temporal.layer,
      temporalTarget: this.temporal.target,
      switches: this.switches,
      /** Time from the last switch decision to the first forwarded packet of the new layer. */
      lastSwitchMs: this.lastSwitchMs,
      /** When that first packet was forwarded (epoch ms; 0 = never switched). */
      lastSwitchAt: this.lastSwitchAt,
      /** NACKs from the subscriber and packets werift resent for them. */
      nacks: (this.transceiver.sender as unknown as { nackCount: number }).nackCount,
      retransmitted: (this.transceiver.sender as unknown as { retransmittedPacketsSent: number }).retransmittedPacketsSent,
    };
  }

  /** True once `layer` has been the choice for UPGRADE_HOLD_MS (starts the clock otherwise). */
  private held(layer: number, now: number): boolean {
    if (!this.pendingUp || this.pendingUp.layer !== layer) {
      this.pendingUp = { layer, since: now };
      return false;
    }
    return now - this.pendingUp.since >= UPGRADE_HOLD_MS;
  }

  /** Start again at a keyframe (after a switch-off). */
  private resume(layer?: number): void {
    this.layer = -1;
    this.pending.clear();
    this.lastKeyframeAsk = Date.now();
    const l = layer ?? this.targetLayer;
    this.requestKeyframe(this.track.kind === 'video' && l >= 0 ? l : undefined);
  }

  private isKeyframe(rtp: RtpPacket): boolean {
    return this.track.kind === 'video' && (this.track.codec === 'H264' ? isH264Keyframe(rtp.payload) : isVp8Keyframe(rtp.payload));
  }
}
