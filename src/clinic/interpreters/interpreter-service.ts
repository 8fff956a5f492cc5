// An interpreter service reached by API (issue 7 part 3): the clinic asks for an interpreter of a
// language for a visit, the service sends one, and reports back. The interpreter either joins by
// WebRTC with a guest link made for this request (mode `video`), or is reached by phone (mode
// `phone`): the service names a number (or SIP URI) and Televisit dials it into the visit.
// `http-interpreter-service.ts` is the reference adapter; others (vendor APIs) implement the same.

export type InterpreterMode = 'phone' | 'video';

/** What a service may report about a request. */
export type InterpreterServiceStatus = 'requested' | 'accepted' | 'connecting' | 'connected' | 'completed' | 'canceled' | 'failed';

export const SERVICE_STATUSES: readonly InterpreterServiceStatus[] = ['requested', 'accepted', 'connecting', 'connected', 'completed', 'canceled', 'failed'];
export const FINAL_SERVICE_STATUSES: readonly InterpreterServiceStatus[] = ['completed', 'canceled', 'failed'];

export interface InterpreterRequestInput {
  /** BCP 47 language tag: es, zh-HK, ase (American Sign Language)… */
  language: string;
  /** An opaque reference to the visit (no patient data). */
  appointmentId: string;
  mode: InterpreterMode;
  /** Where the service reports status updates (signed). */
  callback: string;
  /** Our id of this request; the service echoes it in its reports. */
  reference?: string;
  /** mode `video`: the link the service's interpreter opens (a guest invitation for this visit only). */
  joinLink?: string | null;
}

export interface InterpreterState {
  requestId: string;
  /** Our id of the request, when the service echoes it. */
  reference?: string | null;
  status: InterpreterServiceStatus;
  interpreterName?: string | null;
  /** mode `phone`: the number (E.164) to dial for the interpreter, with optional IVR digits. */
  dial?: { to: string; digits?: string | null } | null;
  /** A short explanation from the service (no interpreter available, …). */
  message?: string | null;
}

export interface InterpreterService {
  readonly name: string;
  request(input: InterpreterRequestInput): Promise<{ requestId: string; status?: InterpreterServiceStatus; dial?: InterpreterState['dial'] }>;
  cancel(requestId: string): Promise<void>;
  status(requestId: string): Promise<InterpreterState>;
  /** Checks a status report sent to /api/interpreter-service/callback: its state, or null when not authentic. */
  verifyCallback(headers: Record<string, string | string[] | undefined>, rawBody: string): InterpreterState | null;
}

/** The service refused or could not be reached. */
export class InterpreterServiceError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number | null = null,
  ) {
    super(message);
    this.name = 'InterpreterServiceError';
  }
}

/** Validates a state object from a service (response or callback); null when it is not one. */
export function parseState(value: unknown): InterpreterState | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.requestId !== 'string' || !v.requestId || v.requestId.length > 200) return null;
  if (!SERVICE_STATUSES.includes(v.status as InterpreterServiceStatus)) return null;
  const state: InterpreterState = { requestId: v.requestId, status: v.status as InterpreterServiceStatus };
  if (typeof v.reference === 'string') state.reference = v.reference.slice(0, 100);
  if (typeof v.interpreterName === 'string') state.interpreterName = v.interpreterName.trim().slice(0, 80) || null;
  if (typeof v.message === 'string') state.message = v.message.slice(0, 300);
  const dial = v.dial as Record<string, unknown> | undefined;
  if (dial && typeof dial === 'object' && typeof dial.to === 'string') {
    state.dial = { to: dial.to.slice(0, 200), digits: typeof dial.digits === 'string' ? dial.digits.slice(0, 32) : null };
  }
  return state;
}
