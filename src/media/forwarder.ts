// Forwards one published track to one subscriber. For simulcast it picks a layer (for now the
// best layer that is flowing) and switches only at a keyframe, asking the publisher for one;
// the sender keeps SSRC, sequence numbers and timestamps continuous across switches.
import type { RTCRtpTransceiver, RtpPacket } from 'werift';
import type { PeerTransport } from './peer-transport.js';
import type { PublishedMedia } from './sfu-room.js';
import { isH264Keyframe, isVp8Keyframe } from './keyframes.js';

/** A layer that has sent nothing for this long is considered stopped. */
const LAYER_STALE_MS = 1500;
/** While waiting for a keyframe to start or switch, ask again this often. */
const KEYFRAME_RETRY_MS = 500;

export class Forwarder {
  /** The layer being sent; -1 until the first keyframe of a chosen layer. */
  private layer = -1;
  private targetLayer = -1;
  private lastTargetCheck = 0;
  private forwarded = 0;
  private dropped = 0;
  private lastKeyframeAsk = 0;
  /** The subscriber renders this track this tall (render hints); 0 = unknown. Recorded for layer choice. */
  private renderHeight = 0;
  /** Switched off: the subscriber does not show the track (render hint enabled=false). */
  private paused = false;
  private keyframeRequestsFromSubscriber = 0;

  private readonly sender: { canSendRtp(): boolean };

  constructor(
    private readonly track: PublishedMedia,
    private readonly transport: PeerTransport,
    readonly transceiver: RTCRtpTransceiver,
    private readonly requestKeyframe: () => void,
  ) {
    this.sender = transceiver.sender as unknown as { canSendRtp(): boolean };
  }

  /** Render hints: a hidden track is switched off; a small one gets a small layer. */
  setRenderHint(hint: { enabled?: boolean; height?: number }): void {
    if (hint.height !== undefined && hint.height > 0) this.renderHeight = hint.height;
    if (hint.enabled !== undefined && this.paused === hint.enabled) {
      this.paused = !hint.enabled;
      if (!this.paused) {
        this.layer = -1; // resume at a keyframe
        this.requestKeyframe();
      }
    }
    this.lastTargetCheck = 0;
  }

  get switchedOff(): boolean {
    return this.paused;
  }

  /** The subscriber lost the picture (PLI/FIR on our sending SSRC). */
  keyframeRequested(): void {
    this.keyframeRequestsFromSubscriber++;
    this.requestKeyframe();
  }

  forward(layer: number, rtp: RtpPacket): void {
    // Until the subscriber's transport is up and this section negotiated, packets would vanish
    // inside the stack (a lost keyframe leaves the subscriber frozen); video then starts at the
    // first keyframe after that.
    if (!this.sender.canSendRtp()) {
      this.dropped++;
      if (this.layer !== -1) this.layer = -1;
      return;
    }
    if (this.paused) {
      this.dropped++;
      return;
    }
    if (this.track.kind === 'audio') {
      this.forwarded++;
      this.transport.sendRtp(this.transceiver, rtp);
      return;
    }
    const now = Date.now();
    if (now - this.lastTargetCheck > 250) {
      this.lastTargetCheck = now;
      this.chooseTarget(now);
    }
    if (layer !== this.layer) {
      if (layer !== this.targetLayer || !this.isKeyframe(rtp)) {
        this.dropped++;
        // Keep asking while we wait: the publisher may have answered before we were ready.
        if (now - this.lastKeyframeAsk > KEYFRAME_RETRY_MS) {
          this.lastKeyframeAsk = now;
          this.requestKeyframe();
        }
        return;
      }
      if (this.layer !== -1) this.transceiver.sender.replaceRTP(rtp.header, true);
      this.layer = layer;
    }
    this.forwarded++;
    this.transport.sendRtp(this.transceiver, rtp);
  }

  stats() {
    return {
      layer: this.layer,
      targetLayer: this.targetLayer,
      forwarded: this.forwarded,
      dropped: this.dropped,
      plis: this.keyframeRequestsFromSubscriber,
      renderHeight: this.renderHeight,
      switchedOff: this.paused,
    };
  }

  private chooseTarget(now: number): void {
    // Layer choice by bandwidth and render size is issue 4's work. Measured here: Chromium 156 with
    // twilio-video's SSRC-munged simulcast sends all three layers at the capture size, with the
    // first SSRC of the SIM group carrying the most bits, so neither SIM order nor picture height
    // ranks layers; a ranking by measured bitrate will.
    const seen = this.track.layerSeenAt;
    let best = -1;
    for (let i = seen.length - 1; i >= 0; i--) {
      if (now - seen[i]! < LAYER_STALE_MS) {
        best = i;
        break;
      }
    }
    if (best !== -1 && best !== this.targetLayer) {
      this.targetLayer = best;
      if (best !== this.layer) this.requestKeyframe();
    }
  }

  private isKeyframe(rtp: RtpPacket): boolean {
    return this.track.codec === 'H264' ? isH264Keyframe(rtp.payload) : isVp8Keyframe(rtp.payload);
  }
}
