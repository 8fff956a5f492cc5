// One outbound call (dial-out) as the UAC: INVITE with an SDP offer, provisional responses,
// digest challenges, the 2xx ACK and the dialog that follows, CANCEL while ringing, BYE from
// either side, and re-INVITEs from the far end answered without dropping the call.
import type { AudioHandler } from '../rtp.js';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  cseqOf,
  parseNameAddr,
  parseSipUri,
  request,
  SipHeaders,
  tagOf,
  type SipRequest,
  type SipResponse,
} from './message.js';
import { authorization, pickChallenge, type DigestCredentials } from './digest.js';
import { ClientTransaction, type Timers } from './transaction.js';
import type { Peer } from './transport.js';
import {
  answerDirection,
  buildSdp,
  OFFER_CODECS,
  parseRemoteSdp,
  SdpError,
  TELEPHONE_EVENT_PT,
  type AudioCodec,
  type RemoteMedia,
} from '../sdp.js';
import { RtpSession, type DtmfTiming } from '../rtp.js';

export type CallStatus = 'queued' | 'initiated' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';
export type FinalStatus = 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

export interface AnsweredInfo {
  /** Where the far end wants our RTP. */
  address: string;
  port: number;
  codec: AudioCodec['name'];
  payloadType: number;
  telephoneEvent: number | null;
  /** The far end's SDP answer as received. */
  sdp: string;
}

export interface EndedInfo {
  status: FinalStatus;
  /** Seconds between answer and hangup (0 if never answered). */
  duration: number;
  /** The final SIP response code that decided the outcome, when there was one. */
  sipCode: number | null;
  /** Who ended an answered call. */
  by: 'local' | 'remote' | null;
  reason: string | null;
}

export interface SipCallEvents {
  initiated: [];
  ringing: [{ sipCode: number }];
  answered: [AnsweredInfo];
  completed: [EndedInfo];
  busy: [EndedInfo];
  'no-answer': [EndedInfo];
  failed: [EndedInfo];
  canceled: [EndedInfo];
  /** Every end, whatever the status (after the status's own event). */
  ended: [EndedInfo];
  status: [CallStatus];
  /** RFC 4733 or SIP INFO digits from the far end. */
  digit: [string];
}

/** What a call needs from the user agent that owns the socket. */
export interface CallHost {
  readonly local: Peer;
  readonly trunk: Peer;
  readonly timers: Timers;
  readonly credentials: DigestCredentials | null;
  readonly rtpPortRange: [number, number];
  readonly userAgent: string;
  readonly log: Logger;
  startTransaction(req: SipRequest, to: Peer, user: { onResponse(res: SipResponse): void; onTimeout(): void }): ClientTransaction;
  sendStateless(req: SipRequest, to: Peer): void;
  resolveUri(uri: string): Peer;
  callEnded(call: SipCall): void;
}

export interface RequestOutcome {
  status: number;
  reason: string;
  headers?: Array<[string, string]>;
  body?: string;
}

export interface SipCallOptions {
  /** Phone number or user at the trunk (`+15551234567`), or a full `sip:` URI. */
  to: string;
  /** User part of From (caller id). */
  fromUser: string;
  /** Host of the From and To URIs (default: the trunk host). */
  domain?: string;
  /** Ring timeout in seconds: no answer by then → CANCEL → no-answer. */
  ringTimeoutSeconds: number;
}

interface Dialog {
  remoteTag: string;
  remoteTarget: string;
  routeSet: string[];
  /** To header value of the 2xx (with the far end's tag). */
  remote: string;
  localSeq: number;
  remoteSeq: number | null;
  ack: SipRequest;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE';
const USER = /^\+?[A-Za-z0-9*._-]{1,64}$/;

export function newBranch(): string {
  return 'z9hG4bK' + randomBytes(10).toString('hex');
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

/** Maps a final SIP failure to the Programmable Voice call status. */
export function statusForFailure(code: number): 'busy' | 'no-answer' | 'failed' {
  if (code === 486 || code === 600) return 'busy';
  if (code === 408 || code === 480 || code === 487) return 'no-answer';
  return 'failed';
}

export function isTerminal(status: CallStatus): status is FinalStatus {
  return status === 'completed' || status === 'busy' || status === 'no-answer' || status === 'failed' || status === 'canceled';
}

export class SipCall extends EventEmitter<SipCallEvents> {
  readonly callId: string;
  readonly localTag = newTag();
  readonly requestUri: string;
  private statusValue: CallStatus = 'queued';
  private rtpSession: RtpSession | null = null;
  private invite: SipRequest | null = null;
  private inviteTx: ClientTransaction | null = null;
  private cseq = 1;
  private authTried = false;
  private provisional = false;
  private cancel: { state: 'pending' | 'sent'; status: 'canceled' | 'no-answer' } | null = null;
  private dialog: Dialog | null = null;
  private answeredAt: number | null = null;
  private endedAt: number | null = null;
  private byeSent = false;
  private ringTimer: NodeJS.Timeout | null = null;
  private cancelGuard: NodeJS.Timeout | null = null;
  private readonly sessionId = String(Date.now());
  private sdpVersion = 1;
  private lastSdpBody = '';
  private endInfo: EndedInfo | null = null;
  private readonly log: Logger;
  private readonly from: string;
  private readonly toHeader: string;

  constructor(
    private readonly host: CallHost,
    readonly options: SipCallOptions,
  ) {
    super();
    this.callId = `${randomBytes(12).toString('hex')}@televisit`;
    const domain = options.domain ?? host.trunk.host;
    if (!USER.test(options.fromUser)) throw new Error('caller id (from) may only hold letters, digits, +, *, ., _ and -');
    if (options.to.startsWith('sip:') || options.to.startsWith('sips:')) {
      if (/[\s<>"]/.test(options.to)) throw new Error('bad SIP URI');
      parseSipUri(options.to);
      this.requestUri = options.to;
    } else {
      if (!USER.test(options.to)) throw new Error('the number to dial may only hold letters, digits, +, *, ., _ and -');
      this.requestUri = `sip:${options.to}@${domain}${domain === host.trunk.host && host.trunk.port !== 5060 ? `:${host.trunk.port}` : ''}`;
    }
    this.from = `<sip:${options.fromUser}@${domain}>;tag=${this.localTag}`;
    this.toHeader = `<${this.requestUri}>`;
    this.log = host.log.child({ callId: this.callId });
  }

  get status(): CallStatus {
    return this.statusValue;
  }

  /** The call's RTP session: null until the INVITE goes out, closed once the call ends. */
  get rtp(): RtpSession | null {
    return this.rtpSession;
  }

  /** Seconds since answer (so far, or until the end). */
  get duration(): number {
    if (this.answeredAt === null) return 0;
    return Math.round(((this.endedAt ?? Date.now()) - this.answeredAt) / 1000);
  }

  get ended(): EndedInfo | null {
    return this.endInfo;
  }

  /** The audio bridge's seam: G.711 payloads from the far end. */
  set onAudio(fn: AudioHandler | null) {
    this.audioHandler = fn;
    if (this.rtpSession) this.rtpSession.onAudio = fn;
  }
  get onAudio(): AudioHandler | null {
    return this.audioHandler;
  }
  private audioHandler: AudioHandler | null = null;

  /** The audio bridge's seam: one frame in the negotiated codec; false if not sendable now. */
  sendAudio(payload: Buffer): boolean {
    return this.statusValue === 'in-progress' && this.rtpSession !== null && this.rtpSession.sendAudio(payload);
  }

  /** RFC 4733 digits after answer; `w` waits half a second. Resolves when all were sent. */
  sendDigits(digits: string, timing?: Partial<DtmfTiming>): Promise<void> {
    if (this.statusValue !== 'in-progress' || !this.rtpSession) return Promise.reject(new Error('the call is not answered'));
    return this.rtpSession.sendDigits(digits, timing);
  }

  /** Hangs up: CANCEL while ringing, BYE when answered. Resolves once the call has ended. */
  hangup(): Promise<EndedInfo> {
    const done = this.endInfo ? Promise.resolve(this.endInfo) : new Promise<EndedInfo>((resolve) => this.once('ended', resolve));
    if (this.endInfo) return done;
    if (this.statusValue === 'in-progress') this.sendBye();
    else this.requestCancel('canceled');
    return done;
  }

  private setStatus(status: CallStatus): void {
    this.statusValue = status;
    this.emit('status', status);
  }

  // --- INVITE ------------------------------------------------------------------------------

  async start(): Promise<void> {
    let rtp: RtpSession;
    try {
      rtp = await RtpSession.open(this.host.local.host, this.host.rtpPortRange, this.log);
    } catch (err) {
      this.log.error({ err }, 'no RTP port for the call');
      this.finish('failed', { sipCode: null, reason: 'no RTP port available' });
      return;
    }
    if (this.cancel || this.endInfo) {
      // Hung up (or shut down) before anything went out.
      rtp.close();
      this.finish(this.cancel?.status ?? 'canceled', { sipCode: null, reason: 'hung up before dialing' });
      return;
    }
    this.rtpSession = rtp;
    this.rtpSession.onAudio = this.audioHandler;
    this.rtpSession.on('digit', (d: string) => this.emit('digit', d));
    this.sendInvite(null);
    this.setStatus('initiated');
    this.emit('initiated');
    this.ringTimer = setTimeout(() => {
      if (this.statusValue === 'initiated' || this.statusValue === 'ringing') {
        this.log.info('ring timeout: cancelling');
        this.requestCancel('no-answer');
      }
    }, this.options.ringTimeoutSeconds * 1000);
  }

  private offer(): string {
    return this.sdp(OFFER_CODECS, TELEPHONE_EVENT_PT, 'sendrecv');
  }

  private sdp(codecs: AudioCodec[], telephoneEvent: number | null, direction: RemoteMedia['direction']): string {
    const rtp = this.rtpSession!;
    const body = (version: number) =>
      buildSdp({ address: this.host.local.host, port: rtp.port, sessionId: this.sessionId, version, codecs, telephoneEvent, direction });
    const withoutOrigin = body(0).replace(/^o=.*$/m, '');
    // RFC 3264 section 8: the version goes up only when the description changes.
    if (this.lastSdpBody && withoutOrigin !== this.lastSdpBody) this.sdpVersion++;
    this.lastSdpBody = withoutOrigin;
    return body(this.sdpVersion);
  }

  private sendInvite(auth: { header: string; value: string } | null): void {
    const sdp = this.lastSdpBody && this.invite ? this.invite.body : this.offer();
    const req = request('INVITE', this.requestUri, [
      ['Via', this.via()],
      ['Max-Forwards', '70'],
      ['From', this.from],
      ['To', this.toHeader],
      ['Call-ID', this.callId],
      ['CSeq', `${this.cseq} INVITE`],
      ['Contact', this.contact()],
      ['Allow', ALLOW],
      ['User-Agent', this.host.userAgent],
      ...(auth ? ([[auth.header, auth.value]] as Array<[string, string]>) : []),
      ['Content-Type', 'application/sdp'],
    ], sdp);
    this.invite = req;
    this.inviteTx = this.host.startTransaction(req, this.host.trunk, {
      onResponse: (res) => this.onInviteResponse(res),
      onTimeout: () => this.onInviteTimeout(),
    });
  }

  private via(): string {
    return `SIP/2.0/UDP ${this.host.local.host}:${this.host.local.port};branch=${newBranch()};rport`;
  }

  private contact(): string {
    return `<sip:${this.options.fromUser}@${this.host.local.host}:${this.host.local.port}>`;
  }

  private onInviteTimeout(): void {
    this.inviteTx = null;
    if (this.cancel) this.finish(this.cancel.status, { sipCode: null, reason: 'no final response after CANCEL' });
    else this.finish('failed', { sipCode: 408, reason: 'no response from the trunk' });
  }

  private onInviteResponse(res: SipResponse): void {
    if (res.status < 200) {
      this.provisional = true;
      if ((res.status === 180 || res.status === 183) && this.statusValue === 'initiated') {
        this.setStatus('ringing');
        this.emit('ringing', { sipCode: res.status });
      }
      if (this.cancel?.state === 'pending') this.sendCancel();
      return;
    }
    this.inviteTx = null;
    if (res.status < 300) {
      this.on2xx(res);
      return;
    }
    if ((res.status === 401 || res.status === 407) && !this.cancel && !this.endInfo) {
      if (this.retryWithAuth(res)) return;
    }
    if (this.endInfo) return;
    const status = this.cancel ? this.cancel.status : statusForFailure(res.status);
    this.finish(status, { sipCode: res.status, reason: res.reason || null });
  }

  /** Answers a 401/407 once; false when it cannot (no credentials, already tried, no usable challenge). */
  private retryWithAuth(res: SipResponse): boolean {
    const creds = this.host.credentials;
    if (!creds || this.authTried) return false;
    const proxy = res.status === 407;
    const challenge = pickChallenge(res.headers.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
    if (!challenge) return false;
    this.authTried = true;
    this.cseq++;
    const value = authorization(challenge, creds, { method: 'INVITE', uri: this.requestUri });
    this.log.debug({ status: res.status, realm: challenge.realm }, 'answering digest challenge');
    this.sendInvite({ header: proxy ? 'Proxy-Authorization' : 'Authorization', value });
    return true;
  }

  private on2xx(res: SipResponse): void {
    const remoteTag = tagOf(res.headers.get('to')!);
    if (this.dialog) {
      if (remoteTag === this.dialog.remoteTag) {
        // A retransmitted 2xx: our ACK was lost.
        this.host.sendStateless(this.dialog.ack, this.dialogDestination(this.dialog));
      } else {
        this.log.info('second 2xx from a forked INVITE: acknowledging and hanging it up');
        const extra = this.makeDialog(res, remoteTag ?? '');
        this.host.sendStateless(extra.ack, this.dialogDestination(extra));
        this.sendInDialog(extra, 'BYE', () => undefined);
      }
      return;
    }
    this.dialog = this.makeDialog(res, remoteTag ?? '');
    this.host.sendStateless(this.dialog.ack, this.dialogDestination(this.dialog));
    if (this.endInfo || this.cancel) {
      // Answered while we were cancelling (the CANCEL crossed the 200): end it with a BYE.
      const status = this.cancel?.status ?? 'canceled';
      this.sendInDialog(this.dialog, 'BYE', () => undefined);
      if (!this.endInfo) this.finish(status, { sipCode: res.status, reason: 'answered after CANCEL' });
      return;
    }
    let media: RemoteMedia;
    try {
      if (!/application\/sdp/i.test(res.headers.get('content-type') ?? '') || !res.body) throw new SdpError('no SDP in the answer');
      media = parseRemoteSdp(res.body);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'unusable SDP answer: hanging up');
      this.answeredAt = Date.now();
      this.sendBye();
      this.pendingFailure = { sipCode: 488, reason: `unusable SDP answer: ${(err as Error).message}` };
      return;
    }
    this.rtpSession!.setRemote(media);
    this.answeredAt = Date.now();
    if (this.ringTimer) clearTimeout(this.ringTimer);
    this.setStatus('in-progress');
    this.emit('answered', {
      address: media.address,
      port: media.port,
      codec: media.codec.name,
      payloadType: media.codec.payloadType,
      telephoneEvent: media.telephoneEvent,
      sdp: res.body,
    });
  }

  /** A 2xx to our INVITE after its transaction ended (a retransmission, or another fork). */
  handleLate2xx(res: SipResponse): void {
    if (this.dialog) this.on2xx(res);
  }

  private pendingFailure: { sipCode: number; reason: string } | null = null;

  private makeDialog(res: SipResponse, remoteTag: string): Dialog {
    const contact = res.headers.get('contact');
    let remoteTarget = this.requestUri;
    if (contact) {
      try {
        const uri = parseNameAddr(contact).uri;
        parseSipUri(uri);
        remoteTarget = uri;
      } catch {
        this.log.warn('unusable Contact in 2xx: using the request URI');
      }
    }
    const routeSet = res.headers
      .getAll('record-route')
      .reverse()
      .filter((r) => {
        try {
          parseSipUri(parseNameAddr(r).uri);
          return true;
        } catch {
          return false;
        }
      });
    const invite = this.invite!;
    const h = new SipHeaders();
    h.add('Via', this.via());
    for (const r of routeSet) h.add('Route', r);
    h.add('Max-Forwards', '70');
    h.add('From', this.from);
    h.add('To', res.headers.get('to')!);
    h.add('Call-ID', this.callId);
    h.add('CSeq', `${cseqOf(invite).seq} ACK`);
    // RFC 3261 section 22.1: the 2xx ACK carries the INVITE's credentials.
    for (const name of ['authorization', 'proxy-authorization']) {
      const v = invite.headers.get(name);
      if (v) h.add(name, v);
    }
    h.add('User-Agent', this.host.userAgent);
    return {
      remoteTag,
      remoteTarget,
      routeSet,
      remote: res.headers.get('to')!,
      localSeq: this.cseq,
      remoteSeq: null,
      ack: { kind: 'request', method: 'ACK', uri: remoteTarget, headers: h, body: '' },
    };
  }

  private dialogDestination(d: Dialog): Peer {
    const first = d.routeSet[0];
    return this.host.resolveUri(first ? parseNameAddr(first).uri : d.remoteTarget);
  }

  // --- CANCEL and BYE ----------------------------------------------------------------------

  private requestCancel(status: 'canceled' | 'no-answer'): void {
    if (this.endInfo) return;
    if (this.cancel) return;
    this.cancel = { state: 'pending', status };
    if (!this.invite) return; // start() sees the flag
    if (this.provisional) this.sendCancel();
  }

  private sendCancel(): void {
    const invite = this.invite;
    if (!invite || !this.cancel || this.cancel.state === 'sent' || !this.inviteTx) return;
    this.cancel.state = 'sent';
    const h = new SipHeaders();
    h.add('Via', invite.headers.get('via')!);
    for (const r of invite.headers.getAll('route')) h.add('Route', r);
    h.add('Max-Forwards', '70');
    h.add('From', invite.headers.get('from')!);
    h.add('To', invite.headers.get('to')!);
    h.add('Call-ID', this.callId);
    h.add('CSeq', `${cseqOf(invite).seq} CANCEL`);
    h.add('User-Agent', this.host.userAgent);
    const req: SipRequest = { kind: 'request', method: 'CANCEL', uri: invite.uri, headers: h, body: '' };
    this.host.startTransaction(req, this.host.trunk, { onResponse: () => undefined, onTimeout: () => undefined });
    // RFC 3261 section 9.1: without a final response to the INVITE in 64*T1, give up on it.
    this.cancelGuard = setTimeout(() => {
      if (this.endInfo) return;
      this.inviteTx?.terminate();
      this.finish(this.cancel!.status, { sipCode: null, reason: 'no 487 after CANCEL' });
    }, 64 * this.host.timers.t1);
  }

  private sendBye(): void {
    if (this.byeSent || !this.dialog) return;
    this.byeSent = true;
    this.endedAt = Date.now();
    this.rtpSession?.close();
    this.sendInDialog(this.dialog, 'BYE', () => {
      if (this.pendingFailure) this.finish('failed', this.pendingFailure);
      else this.finish('completed', { sipCode: 200, reason: null, by: 'local' });
    });
  }

  /** Sends a request in a dialog (answering one digest challenge); `done` runs on its final response or timeout. */
  private sendInDialog(d: Dialog, method: string, done: (res: SipResponse | null) => void, auth: { header: string; value: string } | null = null): void {
    d.localSeq++;
    const h = new SipHeaders();
    h.add('Via', this.via());
    for (const r of d.routeSet) h.add('Route', r);
    h.add('Max-Forwards', '70');
    h.add('From', this.from);
    h.add('To', d.remote);
    h.add('Call-ID', this.callId);
    h.add('CSeq', `${d.localSeq} ${method}`);
    h.add('User-Agent', this.host.userAgent);
    if (auth) h.add(auth.header, auth.value);
    const req: SipRequest = { kind: 'request', method, uri: d.remoteTarget, headers: h, body: '' };
    this.host.startTransaction(req, this.dialogDestination(d), {
      onResponse: (res) => {
        if (res.status < 200) return;
        if ((res.status === 401 || res.status === 407) && !auth && this.host.credentials) {
          const proxy = res.status === 407;
          const ch = pickChallenge(res.headers.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
          if (ch) {
            const value = authorization(ch, this.host.credentials, { method, uri: d.remoteTarget });
            this.sendInDialog(d, method, done, { header: proxy ? 'Proxy-Authorization' : 'Authorization', value });
            return;
          }
        }
        done(res);
      },
      onTimeout: () => done(null),
    });
  }

  // --- requests from the far end -----------------------------------------------------------

  /** A request whose To tag is ours; returns the response to send (status, reason, headers, body). */
  handleRequest(req: SipRequest): RequestOutcome {
    const d = this.dialog;
    if (!d || this.endInfo || tagOf(req.headers.get('from')!) !== d.remoteTag) return { status: 481, reason: 'Call/Transaction Does Not Exist' };
    const seq = cseqOf(req).seq;
    if (req.method !== 'ACK' && req.method !== 'CANCEL') {
      if (d.remoteSeq !== null && seq <= d.remoteSeq) return { status: 500, reason: 'Server Internal Error', headers: [['Retry-After', '1']] };
      d.remoteSeq = seq;
    }
    switch (req.method) {
      case 'BYE':
        if (this.statusValue === 'in-progress') {
          this.endedAt = Date.now();
          this.rtpSession?.close();
          // Answer first, then report.
          setImmediate(() => this.finish('completed', { sipCode: 200, reason: null, by: 'remote' }));
        }
        return { status: 200, reason: 'OK' };
      case 'OPTIONS':
        return { status: 200, reason: 'OK', headers: [['Allow', ALLOW], ['Accept', 'application/sdp']] };
      case 'INVITE':
      case 'UPDATE':
        return this.handleOffer(req, d);
      case 'INFO': {
        const digit = /^Signal\s*=\s*([0-9*#A-D])/im.exec(req.body)?.[1];
        if (digit && /application\/dtmf-relay/i.test(req.headers.get('content-type') ?? '')) this.emit('digit', digit);
        return { status: 200, reason: 'OK' };
      }
      default:
        return { status: 405, reason: 'Method Not Allowed', headers: [['Allow', ALLOW]] };
    }
  }

  /** A re-INVITE or UPDATE from the far end: keep the call, follow its new media address. */
  private handleOffer(req: SipRequest, d: Dialog): RequestOutcome {
    if (this.statusValue !== 'in-progress' || !this.rtpSession) return { status: 491, reason: 'Request Pending' };
    const contact = req.headers.get('contact');
    if (contact && req.method === 'INVITE') {
      try {
        const uri = parseNameAddr(contact).uri;
        parseSipUri(uri);
        d.remoteTarget = uri;
        d.ack.uri = uri;
      } catch {
        // keep the old target
      }
    }
    const headers: Array<[string, string]> = [['Contact', this.contact()], ['Allow', ALLOW]];
    const current = this.rtpSession.remoteMedia;
    if (!req.body) {
      if (req.method === 'UPDATE') return { status: 200, reason: 'OK', headers };
      // A re-INVITE without an offer: we offer in the 200, the answer comes in the ACK.
      this.awaitingAckAnswer = true;
      return { status: 200, reason: 'OK', headers: [...headers, ['Content-Type', 'application/sdp']], body: this.offer() };
    }
    let offer: RemoteMedia;
    try {
      offer = parseRemoteSdp(req.body);
    } catch (err) {
      this.log.info({ reason: (err as Error).message }, 'refusing a re-INVITE offer');
      return { status: 488, reason: 'Not Acceptable Here', headers: [['Warning', '304 televisit "Media type not available"']] };
    }
    const codec = offer.codecs.find((c) => c.name === current?.codec.name) ?? offer.codec;
    const media: RemoteMedia = { ...offer, codec };
    this.rtpSession.setRemote(media);
    this.log.info({ address: media.address, port: media.port, codec: codec.name, direction: media.direction }, 're-INVITE: media updated');
    const body = this.sdp([codec], media.telephoneEvent, answerDirection(media.direction));
    return { status: 200, reason: 'OK', headers: [...headers, ['Content-Type', 'application/sdp']], body };
  }

  private awaitingAckAnswer = false;

  /** An ACK in the dialog (for our 2xx to a re-INVITE); may carry the SDP answer. */
  handleAck(req: SipRequest): void {
    if (!this.awaitingAckAnswer || !req.body) return;
    this.awaitingAckAnswer = false;
    try {
      const media = parseRemoteSdp(req.body);
      this.rtpSession?.setRemote(media);
    } catch (err) {
      this.log.warn({ reason: (err as Error).message }, 'unusable SDP answer in ACK');
    }
  }

  // --- the end -----------------------------------------------------------------------------

  private finish(status: FinalStatus, info: { sipCode: number | null; reason: string | null; by?: 'local' | 'remote' }): void {
    if (this.endInfo) return;
    if (this.ringTimer) clearTimeout(this.ringTimer);
    if (this.cancelGuard) clearTimeout(this.cancelGuard);
    this.endedAt ??= Date.now();
    this.rtpSession?.close();
    const ended: EndedInfo = { status, duration: this.duration, sipCode: info.sipCode, by: info.by ?? null, reason: info.reason };
    this.endInfo = ended;
    this.setStatus(status);
    this.log.info({ status, sipCode: info.sipCode, duration: ended.duration }, 'call ended');
    this.emit(status, ended);
    this.emit('ended', ended);
    this.host.callEnded(this);
  }

  /** Ends the call now (shutdown): BYE or CANCEL are sent but not waited for. */
  abort(): void {
    if (this.endInfo) return;
    if (this.statusValue === 'in-progress') {
      this.sendBye();
      this.finish('completed', { sipCode: null, reason: 'shutdown', by: 'local' });
    } else {
      this.requestCancel('canceled');
      this.finish('canceled', { sipCode: null, reason: 'shutdown' });
    }
  }
}
