// One connected participant's signaling state machine: its published tracks, its
// subscriptions, the revisions the twilio-video client compares, and the offer/answer exchange
// on its single PeerConnection (the client offers first; the server offers to add what the
// client should receive; on glare the server's offer wins and the client re-offers after).
// All work for one session runs one step at a time on its own queue.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { RTCDataChannel, RTCRtpTransceiver } from 'werift';
import { RTCIceCandidate } from 'werift';
import type { Participant, RoomService, SubscribeRule } from '../rooms/room-service.js';
import { DEFAULT_SUBSCRIBE_RULES } from '../rooms/room-service.js';
import { TwilioError } from '../errors.js';
import { PeerTransport, type IceSettings } from '../../media/peer-transport.js';
import { parseOfferedSections, SdpError, type OfferedSection } from '../../media/sdp-tracks.js';
import type { TcmpConnection } from './tcmp-connection.js';
import { LiveRoom, rulesAllow } from './live-room.js';
import { MediaSignaling, parseBandwidthProfile } from './media-signaling.js';
import {
  type ClientParticipantState,
  type ClientPeerConnection,
  type ServerParticipantState,
  signalingError,
} from './messages.js';

/** Our offer waits at most this long for a client's newly negotiated video to flow (maybeOffer). */
const OFFER_HOLD_MS = 1500;

interface Publication {
  sid: string;
  kind: 'audio' | 'video' | 'data';
  name: string;
  enabled: boolean;
  priority: string;
}

interface Subscription {
  id: string;
  trackSid: string;
  transceiver?: RTCRtpTransceiver;
  channel?: RTCDataChannel;
}

export class ParticipantSession {
  readonly sessionId = 'SS' + randomBytes(16).toString('hex');
  /** Created from the client's first offer (it decides the header extension ids). */
  private transportOrNull: PeerTransport | null = null;
  private tcmp: TcmpConnection | null = null;
  private queue: Promise<void> = Promise.resolve();
  private pcId: string | null = null;
  /** Highest description revision on the PeerConnection (shared by both sides). */
  private descRevision = 0;
  /** Revision of our offer awaiting the client's answer. */
  private serverOffer: { revision: number; sdp: string } | null = null;
  private needsOffer = false;
  /** The description revision at which our offer was last held back for the client's video (maybeOffer). */
  private offerHeldAt = -1;
  private offerHeld = false;
  private clientRevision = 0;
  /** This participant's revision as other clients see it. */
  revision = 1;
  private readonly published = new Map<string, Publication>();
  /** The client ignores a list whose revision did not go up; 1 is the empty list. */
  private publishedRevision = 1;
  private readonly subscriptions = new Map<string, Subscription>();
  private subscribedRevision = 1;
  private subscriptionCounter = 0;
  private rules: SubscribeRule[] = DEFAULT_SUBSCRIBE_RULES;
  private readonly pendingDataChannels = new Map<string, RTCDataChannel>();
  private readonly iceSeen = new Map<string, number>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  state: 'connected' | 'reconnecting' | 'gone' = 'connected';
  msp: MediaSignaling | null = null;

  constructor(
    readonly live: LiveRoom,
    readonly participant: Participant,
    private readonly rooms: RoomService,
    private readonly ice: IceSettings,
    private readonly sessionTimeoutSeconds: number,
    private readonly log: Logger,
    private readonly onGone: (session: ParticipantSession) => void,
  ) {}

  get transport(): PeerTransport {
    if (!this.transportOrNull) throw new TwilioError(53403, 'Server is unable to apply a remote media description: no offer yet');
    return this.transportOrNull;
  }

  private createTransport(sections: OfferedSection[]): void {
    const extensionIds = new Map<string, number>();
    for (const s of sections) for (const [uri, id] of s.extensions) if (!extensionIds.has(uri)) extensionIds.set(uri, id);
    const transport = new PeerTransport(this.ice, this.live.videoCodecs, extensionIds);
    transport.onDataChannel = (channel) => this.incomingDataChannel(channel);
    this.transportOrNull = transport;
    this.live.sfu.addPeer(this.participant.sid, transport);
  }

  get participantSid(): string {
    return this.participant.sid;
  }

  get identity(): string {
    return this.participant.identity;
  }

  get isPresent(): boolean {
    return this.state !== 'gone';
  }

  /** What other clients see of this participant. */
  publicState(): ServerParticipantState {
    return {
      sid: this.participant.sid,
      identity: this.participant.identity,
      revision: this.revision,
      state: this.state === 'gone' ? 'disconnected' : 'connected',
      tracks: [...this.published.values()].map((p) => ({ sid: p.sid, kind: p.kind, name: p.name, enabled: p.enabled, priority: p.priority })),
    };
  }

  /** Runs work for this session strictly one piece at a time; errors end up in fail(). */
  enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((err: unknown) => this.fail(err));
  }

  // ---------------------------------------------------------------- connect, sync, leave

  attach(tcmp: TcmpConnection): void {
    this.tcmp = tcmp;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.state = 'connected';
  }

  /** Handles the `connect` body: publish the client's tracks, answer its offer, say `connected`. */
  async connect(body: Record<string, unknown>, participantState: ClientParticipantState | undefined, pcs: ClientPeerConnection[], subscribe: unknown): Promise<void> {
    if (isObject(subscribe) && Array.isArray(subscribe.rules)) {
      const rules = subscribe.rules.filter(isObject) as unknown as SubscribeRule[];
      if (rules.length > 0) this.rules = rules;
    }
    if (participantState) await this.applyParticipantState(participantState, false);
    const pc = pcs[0];
    if (!pc?.description || pc.description.type !== 'offer' || !pc.description.sdp) {
      throw new TwilioError(53402, 'Client is unable to apply a remote media description: connect needs an offer');
    }
    this.pcId = pc.id;
    this.msp = new MediaSignaling(body.media_signaling, this.participant.sid, this.live);
    this.msp.onRenderHint = (trackSid, hint) => this.renderHint(trackSid, hint);
    this.msp.onTrackPriority = (trackSid, priority) => this.live.sfu.setSubscriberPriority(trackSid, this.participant.sid, priority);
    const answer = await this.answerOffer(pc.description.sdp, pc.description.revision);
    this.live.sfu.setSubscriberProfile(this.participant.sid, parseBandwidthProfile(body.bandwidth_profile, this.msp.has('track_switch_off')));
    this.live.sfu.setPublisherHints(this.participant.sid, this.msp.has('publisher_hints'));
    this.msp.onPublisherHintResult = (trackSid, ok) => this.live.sfu.publisherHintResult(trackSid, ok);
    this.msp.onPublisherTrackReset = (trackSid) => this.live.sfu.publisherTrackReset(trackSid);
    if (this.msp.wanted) {
      // Our channels need an m=application; the client's offer has one only with a data track.
      const hadApplication = parseOfferedSections(pc.description.sdp).some((s) => s.kind === 'application');
      this.msp.open(this.transport);
      if (!hadApplication) this.needsOffer = true;
    }
    this.send({
      type: 'connected',
      session: this.sessionId,
      sid: this.live.room.sid,
      name: this.live.room.unique_name,
      options: { session_timeout: this.sessionTimeoutSeconds, media_region: this.live.room.media_region, signaling_region: 'self-hosted' },
      participant: { sid: this.participant.sid, identity: this.participant.identity, revision: this.revision, state: 'connected', tracks: [] },
      participants: this.live.others(this).map((o) => o.publicState()),
      peer_connections: [{ id: this.pcId, description: { type: 'answer', revision: pc.description.revision, sdp: answer } }],
      published: this.publishedState(),
      subscribed: this.subscribedState(),
      recording: { revision: 1, is_recording: false },
      media_signaling: this.msp.announcement(),
    });
    for (const other of this.live.others(this)) this.syncSubscriptionsTo(other);
    await this.maybeOffer();
  }

  /** A new signaling socket for an existing session (`sync`): bring the client up to date. */
  async sync(participantState: ClientParticipantState | undefined, pcs: ClientPeerConnection[]): Promise<void> {
    if (participantState) await this.applyParticipantState(participantState, true);
    await this.applyPeerConnections(pcs, false);
    const peerConnection: Record<string, unknown> = { id: this.pcId };
    if (this.serverOffer) peerConnection.description = { type: 'offer', revision: this.serverOffer.revision, sdp: this.serverOffer.sdp };
    this.send({
      type: 'synced',
      session: this.sessionId,
      participant: { sid: this.participant.sid, identity: this.participant.identity, revision: this.revision, state: 'connected', tracks: [] },
      participants: this.live.others(this).map((o) => o.publicState()),
      peer_connections: this.pcId ? [peerConnection] : [],
      published: this.publishedState(),
      subscribed: this.subscribedState(),
      recording: { revision: 1, is_recording: false },
    });
    await this.maybeOffer();
  }

  async update(participantState: ClientParticipantState | undefined, pcs: ClientPeerConnection[]): Promise<void> {
    if (participantState) await this.applyParticipantState(participantState, true);
    await this.applyPeerConnections(pcs, true);
    await this.maybeOffer();
  }

  /** The signaling socket dropped without a goodbye: keep the session for session_timeout. */
  socketLost(tcmp: TcmpConnection): void {
    if (this.state !== 'connected' || this.tcmp !== tcmp) return;
    this.tcmp = null;
    this.state = 'reconnecting';
    this.reconnectTimer = setTimeout(() => this.enqueue(() => this.leave({ kind: 'timeout' })), this.sessionTimeoutSeconds * 1000);
  }

  /** Ends the session for good; the durable record is updated unless it already was. */
  async leave(reason: { kind: 'left' | 'timeout' | 'removed' }, message?: Record<string, unknown>): Promise<void> {
    if (this.state === 'gone') return;
    this.state = 'gone';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (message) this.send(message);
    this.tcmp?.close(1000, 'Normal');
    this.tcmp = null;
    for (const p of this.published.values()) this.live.sfu.removeTrack(p.sid);
    this.live.remove(this);
    if (reason.kind !== 'removed') await this.rooms.disconnectParticipant(this.participant.sid, reason.kind === 'timeout' ? { kind: 'timeout' } : { kind: 'left' });
    this.onGone(this);
  }

  // ---------------------------------------------------------------- what the client publishes

  private async applyParticipantState(state: ClientParticipantState, announce: boolean): Promise<void> {
    if (state.revision <= this.clientRevision) return;
    this.clientRevision = state.revision;
    let changed = false;
    let publishedChanged = false;
    const ids = new Set(state.tracks.map((t) => t.id));
    for (const [id, pub] of this.published) {
      if (ids.has(id)) continue;
      this.published.delete(id);
      this.live.sfu.removeTrack(pub.sid);
      await this.rooms.unpublishTrack(pub.sid);
      changed = publishedChanged = true;
    }
    for (const t of state.tracks) {
      const existing = this.published.get(t.id);
      if (existing) {
        if (existing.enabled !== t.enabled) {
          existing.enabled = t.enabled;
          await this.rooms.setTrackEnabled(existing.sid, t.enabled);
          changed = true;
        }
        if (existing.priority !== t.priority) {
          existing.priority = t.priority;
          this.live.sfu.setPublishPriority(existing.sid, t.priority);
          changed = true;
        }
        continue;
      }
      const row = await this.rooms.publishTrack(this.participant.sid, { name: t.name, kind: t.kind, enabled: t.enabled });
      this.published.set(t.id, { sid: row.sid, kind: t.kind, name: t.name, enabled: t.enabled, priority: t.priority });
      this.live.sfu.addTrack(this.participant.sid, row.sid, t.kind);
      this.live.sfu.setPublishPriority(row.sid, t.priority);
      const channel = this.pendingDataChannels.get(t.id);
      if (t.kind === 'data' && channel) {
        this.pendingDataChannels.delete(t.id);
        this.live.sfu.setPublisherDataChannel(row.sid, channel);
      }
      changed = publishedChanged = true;
    }
    if (publishedChanged) {
      this.publishedRevision++;
      if (announce) this.send({ type: 'update', published: this.publishedState() });
    }
    if (changed) {
      this.revision++;
      if (announce || this.state === 'connected') this.live.participantChanged(this);
    }
  }

  private incomingDataChannel(channel: RTCDataChannel): void {
    const pub = this.published.get(channel.label);
    if (pub && pub.kind === 'data') this.live.sfu.setPublisherDataChannel(pub.sid, channel);
    else this.pendingDataChannels.set(channel.label, channel);
  }

  // ---------------------------------------------------------------- offer / answer

  private async applyPeerConnections(pcs: ClientPeerConnection[], inUpdate: boolean): Promise<void> {
    for (const pc of pcs) {
      if (this.pcId && pc.id !== this.pcId) continue; // one PeerConnection per participant
      const d = pc.description;
      if (d?.type === 'offer' && d.sdp) {
        // Glare: our offer is outstanding; the client rolls back, answers ours, then re-offers.
        if (this.serverOffer) continue;
        if (d.revision <= this.descRevision) continue;
        const answer = await this.answerOffer(d.sdp, d.revision);
        this.send({ type: 'update', peer_connections: [{ id: this.pcId, description: { type: 'answer', revision: d.revision, sdp: answer } }] });
      } else if ((d?.type === 'answer' || d?.type === 'pranswer') && d.sdp) {
        if (!this.serverOffer || d.revision !== this.serverOffer.revision) continue;
        try {
          await this.transport.acceptAnswer(d.sdp);
        } catch (err) {
          throw new TwilioError(53403, `Server is unable to apply a remote media description: ${(err as Error).message}`);
        }
        this.serverOffer = null;
      } else if (d?.type === 'close') {
        await this.leave({ kind: 'left' });
        return;
      }
      if (pc.ice) await this.addCandidates(pc.ice.ufrag, pc.ice.candidates);
    }
    void inUpdate;
  }

  private async answerOffer(sdp: string, revision: number): Promise<string> {
    let sections;
    try {
      sections = parseOfferedSections(sdp);
    } catch (err) {
      throw new TwilioError(53403, `Server is unable to apply a remote media description: ${(err as SdpError).message}`);
    }
    if (!this.transportOrNull) this.createTransport(sections);
    let answer: string;
    try {
      answer = await this.transport.answer(sdp);
    } catch (err) {
      throw new TwilioError(53403, `Server is unable to apply a remote media description: ${(err as Error).message}`);
    }
    this.descRevision = Math.max(this.descRevision, revision);
    const byClientId = new Map([...this.published].map(([id, p]) => [id, p.sid]));
    this.live.sfu.bindSections(this.participant.sid, sections, byClientId);
    this.iceSeen.clear();
    return answer;
  }

  private async addCandidates(ufrag: string, candidates: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }[]): Promise<void> {
    const seen = this.iceSeen.get(ufrag) ?? 0;
    for (const c of candidates.slice(seen)) {
      if (!c.candidate) continue;
      try {
        await this.transport.pc.addIceCandidate(new RTCIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 }));
      } catch {
        // an unusable candidate is skipped, as a browser would
      }
    }
    this.iceSeen.set(ufrag, Math.max(seen, candidates.length));
  }

  /** Sends our offer if we have something new for the client and nobody else is negotiating. */
  private async maybeOffer(): Promise<void> {
    if (!this.needsOffer || this.serverOffer || !this.tcmp?.isOpen || this.state !== 'connected') return;
    if (this.transport.signalingState !== 'stable') return;
    // A client that has just negotiated its camera starts encoding at the rate its browser
    // estimates when the first frame comes; a description applied just before that (a joiner
    // gets its subscriptions ~10 ms after our answer) leaves Chromium's encoder starting at
    // 640x360 and taking 10-15 s to reach the 1280x720 it was asked for. So our offer waits
    // for the client's video to flow (at most OFFER_HOLD_MS, once per negotiation).
    const camera = [...this.published.values()].some((p) => p.kind === 'video' && p.enabled);
    if (camera && this.transport.clientSendsVideo && !this.transport.clientVideoFlowing) {
      if (this.offerHeld) return; // the hold ends with another try
      if (this.offerHeldAt !== this.descRevision) {
        this.offerHeldAt = this.descRevision;
        this.offerHeld = true;
        void this.transport.clientVideoOrTimeout(OFFER_HOLD_MS).then(() => {
          this.offerHeld = false;
          this.enqueue(() => this.maybeOffer());
        });
        return;
      }
    }
    this.needsOffer = false;
    const revision = this.descRevision + 1;
    const sdp = await this.transport.offer();
    this.descRevision = revision;
    this.serverOffer = { revision, sdp };
    this.send({
      type: 'update',
      peer_connections: [{ id: this.pcId, description: { type: 'offer', revision, sdp } }],
      subscribed: this.subscribedState(),
    });
  }

  // ---------------------------------------------------------------- what the client receives

  /**
   * Through the session's queue, so it never overtakes the update that introduces the speaker:
   * the SDK ignores a dominant speaker it does not know yet.
   */
  announceDominantSpeaker(participantSid: string): void {
    this.enqueue(async () => {
      if (this.isPresent) this.msp?.activeSpeaker(participantSid);
    });
  }

  remoteParticipantChanged(other: ParticipantSession): void {
    this.enqueue(async () => {
      if (!this.isPresent) return;
      const subscribedBefore = this.subscribedRevision;
      this.syncSubscriptionsTo(other);
      const message: Record<string, unknown> = { type: 'update', participants: [other.publicState()] };
      if (this.subscribedRevision !== subscribedBefore && !this.needsOffer) message.subscribed = this.subscribedState();
      this.send(message);
      // If they were already the dominant speaker before this client knew them, say so again now.
      if (this.live.dominantSpeaker() === other.participantSid) this.msp?.activeSpeaker(other.participantSid);
      await this.maybeOffer();
    });
  }

  remoteParticipantLeft(other: ParticipantSession): void {
    this.enqueue(async () => {
      if (!this.isPresent) return;
      let changed = false;
      for (const [trackSid, sub] of this.subscriptions) {
        if (other.ownsTrack(trackSid)) {
          this.unsubscribe(sub);
          changed = true;
        }
      }
      const message: Record<string, unknown> = { type: 'update', participants: [{ ...other.publicState(), state: 'disconnected', revision: other.revision + 1, tracks: [] }] };
      if (changed) message.subscribed = this.subscribedState();
      this.send(message);
      await this.maybeOffer();
    });
  }

  /** Subscribe-rules changed by REST: re-evaluate every remote track. */
  setRules(rules: SubscribeRule[]): void {
    this.enqueue(async () => {
      this.rules = rules;
      const before = this.subscribedRevision;
      for (const other of this.live.others(this)) this.syncSubscriptionsTo(other);
      if (this.subscribedRevision !== before) {
        if (!this.needsOffer) this.send({ type: 'update', subscribed: this.subscribedState() });
        await this.maybeOffer();
      }
    });
  }

  /**
   * Render hints switch a track off and on for this subscriber and size its simulcast layer; the
   * SFU says what changed through switchedOff() (it also switches tracks off for bandwidth).
   */
  private renderHint(trackSid: string, hint: { enabled?: boolean; height?: number }): void {
    this.live.sfu.setRenderHint(trackSid, this.participant.sid, hint);
  }

  /** Publisher hints for one of this participant's tracks (adaptive simulcast). */
  publisherHints(trackSid: string, encodings: { enabled: boolean; layer_index: number }[]): void {
    if (this.isPresent) this.msp?.publisherHints(trackSid, encodings);
  }

  /** Tracks the SFU switched off or back on for this subscriber. */
  switchedOff(off: string[], on: string[]): void {
    if (this.isPresent) this.msp?.switchOff(off, on);
  }

  ownsTrack(trackSid: string): boolean {
    for (const p of this.published.values()) if (p.sid === trackSid) return true;
    return false;
  }

  /** Makes our subscriptions to one publisher's tracks match its tracks and our rules. */
  private syncSubscriptionsTo(other: ParticipantSession): void {
    const theirs = other.publicState().tracks;
    const wanted = new Set(theirs.filter((t) => rulesAllow(this.rules, t, { sid: other.participantSid, identity: other.identity })).map((t) => t.sid));
    for (const [trackSid, sub] of this.subscriptions) {
      if (other.ownsTrack(trackSid) || !this.live.sfu.getTrack(trackSid)) {
        if (!wanted.has(trackSid)) this.unsubscribe(sub);
      }
    }
    for (const t of theirs) {
      if (!wanted.has(t.sid) || this.subscriptions.has(t.sid)) continue;
      this.subscribe(t.sid, t.kind, other.participantSid);
    }
  }

  private subscribe(trackSid: string, kind: 'audio' | 'video' | 'data', publisherSid: string): void {
    const id = `${trackSid}-${++this.subscriptionCounter}`;
    const sub: Subscription = { id, trackSid };
    if (kind === 'data') {
      const track = this.live.sfu.getTrack(trackSid);
      const channel = this.transport.createDataChannel(id, { ordered: true });
      sub.channel = channel;
      this.live.sfu.addDataSubscriber(trackSid, this.participant.sid, channel);
      void track;
    } else {
      sub.transceiver = this.transport.addSender(kind, id, publisherSid);
      this.live.sfu.attachSubscriber(trackSid, this.participant.sid, sub.transceiver);
      const priority = this.msp?.trackPriorities.get(trackSid);
      if (priority !== undefined) this.live.sfu.setSubscriberPriority(trackSid, this.participant.sid, priority);
    }
    this.subscriptions.set(trackSid, sub);
    this.subscribedRevision++;
    this.needsOffer = true;
    this.rooms.subscribeTrack(this.participant.sid, trackSid).catch(() => undefined);
  }

  private unsubscribe(sub: Subscription): void {
    this.subscriptions.delete(sub.trackSid);
    this.live.sfu.detachSubscriber(sub.trackSid, this.participant.sid);
    if (sub.transceiver) {
      this.transport.removeSender(sub.transceiver);
      this.needsOffer = true;
    }
    if (sub.channel) sub.channel.close();
    this.subscribedRevision++;
    this.rooms.unsubscribeTrack(this.participant.sid, sub.trackSid).catch(() => undefined);
  }

  private publishedState() {
    return {
      revision: this.publishedRevision,
      tracks: [...this.published].map(([id, p]) => ({ id, sid: p.sid, state: 'ready' })),
    };
  }

  private subscribedState() {
    return {
      revision: this.subscribedRevision,
      tracks: [...this.subscriptions.values()].map((s) => ({ id: s.id, sid: s.trackSid })),
    };
  }

  // ---------------------------------------------------------------- plumbing

  send(body: Record<string, unknown>): void {
    this.log.trace({ type: body.type }, 'signaling message out');
    if (this.tcmp?.isOpen) this.tcmp.send(body);
  }

  private fail(err: unknown): void {
    if (this.state === 'gone') return;
    const { error: twilio, unexpected } = signalingError(err, new TwilioError(53403, 'Server is unable to apply a remote media description'));
    if (unexpected) this.log.error({ err }, 'signaling session failed');
    else this.log.info({ code: twilio.code, participant: this.participant.sid }, 'signaling session ended with an error');
    void this.leave({ kind: 'left' }, { type: 'error', code: twilio.code, message: twilio.message });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
