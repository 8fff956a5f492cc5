// Dial-out telephony through a SIP trunk (issue 7): the public surface for the rest of the app.
export { TelephonyService, PhoneCall, newCallSid, TELEPHONY_CHANNEL } from './telephony-service.js';
export type { DialOptions, CallStatusUpdate, StatusCallbackEvent, TelephonyServiceOptions } from './telephony-service.js';
export { StatusCallbackSender, VOICE_STATUS_CALLBACK_QUEUE, callbackTimestamp } from './status-callbacks.js';
export type { VoiceCallbackJob, StatusCallbackSenderOptions } from './status-callbacks.js';
export { SipUserAgent } from './sip/user-agent.js';
export type { SipUserAgentOptions } from './sip/user-agent.js';
export { SipCall, statusForFailure } from './sip/call.js';
export type { CallStatus, FinalStatus, AnsweredInfo, EndedInfo } from './sip/call.js';
export { RtpSession } from './rtp.js';
export type { DtmfTiming, RtpStats } from './rtp.js';
