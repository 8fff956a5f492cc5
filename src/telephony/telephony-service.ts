// Dialing out through the configured SIP trunk, Programmable Voice style: `dial()` returns a
// call with a CA… sid in status `queued`; it moves through initiated, ringing and in-progress to
// completed, busy, no-answer, failed or canceled. Each change is emitted (`status`), published
// on the event bus (channel `telephony`) and, for the events the caller subscribed to
// (statusCallbackEvent: initiated, ringing, answered, completed), sent as a signed callback.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { SipConfig } from '../config.js';
import type { EventBus } from '../realtime/event-bus.js';
import { SipUserAgent } from './sip/user-agent.js';
import { isTerminal, type AnsweredInfo, type CallStatus, type EndedInfo, type SipCall } from './sip/call.js';
import type { Timers } from './sip/transaction.js';
import type { Peer, TraceFn } from './sip/transport.js';
import type { DtmfTiming } from './rtp.js';
import { validDigits } from './rtp.js';
import { callbackTimestamp, type StatusCallbackSender } from './status-callbacks.js';

export type StatusCallbackEvent = 'initiated' | 'ringing' | 'answered' | 'completed';
export const TELEPHONY_CHANNEL = 'telephony';

export interface DialOptions {
  /** Caller id (user part of From); default SIP_FROM_USER. */
  from?: string;
  /** Account the call belongs to; its auth token signs the callbacks. */
  accountSid?: string;
  /** Seconds to let it ring before giving up as no-answer (Twilio `Timeout`, default 60). */
  timeout?: number;
  /** Digits to send once answered (Twilio `SendDigits`: 0-9, *, #, A-D, w = half a second). */
  sendDigits?: string;
  statusCallback?: string;
  statusCallbackMethod?: 'POST' | 'GET';
  /** Default: completed only, as Twilio. */
  statusCallbackEvent?: StatusCallbackEvent[];
}

export interface CallStatusUpdate {
  callSid: string;
  accountSid: string;
  status: CallStatus;
  /** The statusCallbackEvent this change belongs to (null for queued). */
  event: StatusCallbackEvent | null;
  timestamp: number;
  sipCode: number | null;
  /** Seconds, on the final status. */
  duration: number | null;
  answered?: AnsweredInfo;
}

export interface TelephonyServiceOptions {
  log: Logger;
  callbacks?: StatusCallbackSender | null;
  bus?: EventBus | null;
  /** Account used when `dial` names none. */
  defaultAccountSid?: string;
  timers?: Partial<Timers>;
  trace?: TraceFn;
}

const EVENTS: StatusCallbackEvent[] = ['initiated', 'ringing', 'answered', 'completed'];

export function newCallSid(): string {
  return 'CA' + randomBytes(16).toString('hex');
}

export class PhoneCall {
  status: CallStatus = 'queued';
  readonly dateCreated = Date.now();
  startTime: number | null = null;
  endTime: number | null = null;
  duration: number | null = null;
  sipCode: number | null = null;
  /** Callbacks sent so far (the next one's SequenceNumber). */
  sequence = 0;

  constructor(
    readonly sid: string,
    readonly accountSid: string,
    readonly to: string,
    readonly from: string,
    readonly sip: SipCall,
    readonly options: DialOptions,
  ) {}

  hangup(): Promise<EndedInfo> {
    return this.sip.hangup();
  }

  sendDigits(digits: string, timing?: Partial<DtmfTiming>): Promise<void> {
    return this.sip.sendDigits(digits, timing);
  }
}

export class TelephonyService extends EventEmitter<{ status: [CallStatusUpdate] }> {
  private readonly ua: SipUserAgent;
  private readonly calls = new Map<string, PhoneCall>();
  private started = false;

  constructor(
    readonly config: SipConfig,
    private readonly options: TelephonyServiceOptions,
  ) {
    super();
    this.ua = new SipUserAgent({
      localHost: config.localHost,
      localPort: config.localPort,
      trunk: { host: config.trunkHost, port: config.trunkPort },
      credentials: config.username && config.password ? { username: config.username, password: config.password } : null,
      rtpPortRange: config.rtpPortRange,
      log: options.log,
      timers: options.timers,
      trace: options.trace,
    });
  }

  async start(): Promise<Peer> {
    const address = await this.ua.start();
    this.started = true;
    return address;
  }

  /** Hangs up every live call and closes the SIP socket. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.ua.stop();
    await this.options.callbacks?.idle();
  }

  get userAgent(): SipUserAgent {
    return this.ua;
  }

  get(callSid: string): PhoneCall | undefined {
    return this.calls.get(callSid);
  }

  /** Calls not yet ended. */
  live(): PhoneCall[] {
    return [...this.calls.values()].filter((c) => !isTerminal(c.status));
  }

  /** Places a call to a number (or user, or sip: URI) through the trunk. */
  dial(to: string, opts: DialOptions = {}): PhoneCall {
    if (!this.started) throw new Error('telephony is not started');
    const timeout = opts.timeout ?? 60;
    if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 600) throw new Error('timeout must be between 1 and 600 seconds');
    if (opts.sendDigits !== undefined && !validDigits(opts.sendDigits)) throw new Error('sendDigits may only hold 0-9, *, #, A-D and w');
    for (const e of opts.statusCallbackEvent ?? []) if (!EVENTS.includes(e)) throw new Error(`unknown statusCallbackEvent ${e}`);
    if (opts.statusCallback !== undefined) {
      const u = new URL(opts.statusCallback);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('statusCallback must be an http(s) URL');
    }
    const from = opts.from ?? this.config.fromUser;
    const sip = this.ua.call({ to, fromUser: from, ringTimeoutSeconds: timeout });
    const call = new PhoneCall(newCallSid(), opts.accountSid ?? this.options.defaultAccountSid ?? '', to, from, sip, opts);
    this.calls.set(call.sid, call);
    this.options.log.info({ callSid: call.sid, sipCallId: sip.callId }, 'dialing out');
    this.update(call, 'queued', null, {});
    sip.on('initiated', () => this.update(call, 'initiated', 'initiated', {}));
    sip.on('ringing', () => this.update(call, 'ringing', 'ringing', {}));
    sip.on('answered', (answered) => {
      call.startTime = Date.now();
      this.update(call, 'in-progress', 'answered', { answered });
      if (opts.sendDigits) {
        sip.sendDigits(opts.sendDigits).catch((err: unknown) => this.options.log.warn({ err, callSid: call.sid }, 'sendDigits failed'));
      }
    });
    sip.on('ended', (ended) => {
      call.endTime = Date.now();
      call.duration = ended.duration;
      call.sipCode = ended.sipCode;
      this.update(call, ended.status, 'completed', { sipCode: ended.sipCode, duration: ended.duration });
      // Forget it after a while; the caller keeps its own reference.
      setTimeout(() => this.calls.delete(call.sid), 10 * 60_000).unref();
    });
    return call;
  }

  private update(call: PhoneCall, status: CallStatus, event: StatusCallbackEvent | null, extra: { sipCode?: number | null; duration?: number; answered?: AnsweredInfo }): void {
    call.status = status;
    const update: CallStatusUpdate = {
      callSid: call.sid,
      accountSid: call.accountSid,
      status,
      event,
      timestamp: Date.now(),
      sipCode: extra.sipCode ?? null,
      duration: extra.duration ?? null,
      ...(extra.answered ? { answered: extra.answered } : {}),
    };
    this.emit('status', update);
    if (this.options.bus) {
      const { answered, ...rest } = update;
      void this.options.bus.publish(TELEPHONY_CHANNEL, { type: 'call-status', ...rest }).catch((err: unknown) => {
        this.options.log.warn({ err }, 'call status not published');
      });
    }
    this.callback(call, update);
  }

  private callback(call: PhoneCall, u: CallStatusUpdate): void {
    const o = call.options;
    const sender = this.options.callbacks;
    if (!sender || !o.statusCallback || u.event === null) return;
    if (!(o.statusCallbackEvent ?? ['completed']).includes(u.event)) return;
    const params: Record<string, string> = {
      AccountSid: call.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: call.sid,
      CallStatus: u.status,
      Called: call.to,
      Caller: call.from,
      Direction: 'outbound-api',
      From: call.from,
      To: call.to,
      Timestamp: callbackTimestamp(u.timestamp),
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(call.sequence++),
    };
    if (u.event === 'completed') {
      params.CallDuration = String(u.duration ?? 0);
      params.Duration = String(Math.ceil((u.duration ?? 0) / 60));
      if (u.sipCode !== null) params.SipResponseCode = String(u.sipCode);
    }
    void sender.send({ callSid: call.sid, accountSid: call.accountSid, url: o.statusCallback, method: o.statusCallbackMethod ?? 'POST', params });
  }
}
