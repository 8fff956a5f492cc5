// Phone legs of the visit, for the provider: "Call by phone" (number, role, name, optional IVR
// digits) → a live status line per call (Calling… / Ringing / Connected mm:ss / Busy / No answer /
// Failed / Ended) fed by the staff socket, a keypad that sends digits live, and Hang up.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useDialog } from '../shared/use-dialog.js';
import { get, post } from '../shared/api.js';
import type { GuestRole } from '../shared/invite-dialog.js';
import { ROLE_NAMES } from './guest-panel.js';

export type PhoneStatus = 'queued' | 'initiated' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

export interface PhoneCallView {
  id: string;
  role: GuestRole;
  displayName: string;
  numberLast4: string;
  status: PhoneStatus;
  sipCode: number | null;
  startedAt: string | null;
  answeredAt: string | null;
  endedAt: string | null;
  duration: number | null;
  elapsedSeconds: number | null;
  viaInterpreterService: boolean;
  createdAt: string;
}

/** Names of phone legs' roles on the video tiles ("Interpreter (phone)"), keyed as the directory sends them. */
export const PHONE_ROLE_NAMES: Record<string, string> = Object.fromEntries(Object.entries(ROLE_NAMES).map(([k, v]) => [`phone-${k}`, `${v} (phone)`]));

const STATUS_TEXT: Record<PhoneStatus, string> = {
  queued: 'Calling…',
  initiated: 'Calling…',
  ringing: 'Ringing',
  'in-progress': 'Connected',
  completed: 'Ended',
  busy: 'Busy',
  'no-answer': 'No answer',
  failed: 'Failed',
  canceled: 'Ended',
};
const STATUS_CHIP: Record<PhoneStatus, string> = { queued: 'info', initiated: 'info', ringing: 'warn', 'in-progress': 'ok', completed: '', busy: 'bad', 'no-answer': 'bad', failed: 'bad', canceled: '' };
const LIVE: ReadonlySet<PhoneStatus> = new Set(['queued', 'initiated', 'ringing', 'in-progress']);
const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
const KEY_NAMES: Record<string, string> = { '*': 'star', '#': 'pound' };
const DIGITS = /^[0-9*#wW]{0,32}$/;

const callsUrl = (appointmentId: string) => `/api/appointments/${appointmentId}/phone-calls`;
const errorOf = (err: unknown) => (err as Error).message;

export const mmss = (seconds: number) => `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;

function PhoneIcon() {
  return (
    <svg width={20} height={20} viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="currentColor">
      <path d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1l-2.2 2.23z" />
    </svg>
  );
}

/** Seconds connected, counted locally from what the server said when the view was made. */
function useConnectedSeconds(call: PhoneCallView): number | null {
  const base = useRef<{ at: number; elapsed: number } | null>(null);
  const [, tick] = useState(0);
  const connected = call.status === 'in-progress';
  if (!connected) base.current = null;
  else base.current ??= { at: Date.now(), elapsed: call.elapsedSeconds ?? 0 };
  useEffect(() => {
    if (!connected) return;
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [connected]);
  if (!base.current) return null;
  return base.current.elapsed + Math.floor((Date.now() - base.current.at) / 1000);
}

function CallDialog({ appointmentId, onClose }: { appointmentId: string; onClose: (created: PhoneCallView | null) => void }) {
  const [to, setTo] = useState('');
  const [role, setRole] = useState<GuestRole>('interpreter');
  const [name, setName] = useState('');
  const [digits, setDigits] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const dialog = useDialog<HTMLDivElement>(() => onClose(null));
  const digitsOk = DIGITS.test(digits.trim());
  return (
    <div class="overlay" ref={dialog} role="dialog" aria-modal="true" aria-labelledby="call-title" data-testid="call-dialog">
      <form
        class="dialog invite-dialog"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            onClose(await post<PhoneCallView>(callsUrl(appointmentId), { to: to.trim(), role, displayName: name.trim(), digits: digits.trim() || null }));
          } catch (err) {
            setError(errorOf(err));
            setBusy(false);
          }
        }}
      >
        <h2 id="call-title">Call someone into the visit</h2>
        <p class="muted">We call the number from the clinic; when they answer, they hear the visit and everyone in it hears them.</p>
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        <label for="call-to">Phone number</label>
        <input id="call-to" type="tel" inputMode="tel" autocomplete="off" required maxLength={40} value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        <label for="call-role">Role</label>
        <select id="call-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as GuestRole)}>
          {(['interpreter', 'family', 'caregiver', 'clinician'] as const).map((r) => (
            <option key={r} value={r}>
              {ROLE_NAMES[r]}
            </option>
          ))}
        </select>
        <label for="call-name">Name (optional)</label>
        <input id="call-name" maxLength={80} autocomplete="off" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <label for="call-digits">Digits to press after they answer (optional)</label>
        <input
          id="call-digits"
          inputMode="tel"
          autocomplete="off"
          maxLength={32}
          aria-describedby="call-digits-hint"
          aria-invalid={!digitsOk}
          value={digits}
          onInput={(e) => setDigits((e.target as HTMLInputElement).value)}
        />
        <p class="hint" id="call-digits-hint" style={{ margin: '0.3em 0 0' }}>
          For a phone menu or an access code: 0-9, * and #. Each <strong>w</strong> waits half a second, e.g. <code>ww1234#</code>.
        </p>
        <div class="actions">
          <button type="submit" disabled={busy || !to.trim() || !digitsOk}>
            <PhoneIcon /> Call
          </button>
          <button type="button" class="secondary" onClick={() => onClose(null)}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}

function Keypad({ call, appointmentId, onError }: { call: PhoneCallView; appointmentId: string; onError: (m: string) => void }) {
  const [sent, setSent] = useState('');
  const press = (key: string) => {
    setSent((s) => (s + key).slice(-16));
    post(`${callsUrl(appointmentId)}/${call.id}/digits`, { digits: key }).catch((err) => onError(errorOf(err)));
  };
  return (
    <div class="keypad" role="group" aria-label={`Keypad for ${call.displayName}`} data-testid="keypad" style={{ marginTop: '0.4em' }}>
      <div style={{ display: 'grid', gridTemplateColumns: 'repeat(3, 3.2em)', gap: '0.3em' }}>
        {KEYS.map((k) => (
          <button key={k} type="button" class="small secondary" style={{ fontSize: '1.05rem', fontWeight: 700 }} aria-label={KEY_NAMES[k] ?? k} onClick={() => press(k)}>
            {k}
          </button>
        ))}
      </div>
      <p class="hint" style={{ margin: '0.3em 0 0' }} data-testid="keypad-sent">
        {sent ? <>Sent: <span style={{ fontFamily: 'ui-monospace, monospace' }}>{sent}</span></> : 'Press keys to send them to the call.'}
      </p>
    </div>
  );
}

function CallLine({ call, appointmentId, onError, focusHangup }: { call: PhoneCallView; appointmentId: string; onError: (m: string) => void; focusHangup: boolean }) {
  const [keypad, setKeypad] = useState(false);
  const seconds = useConnectedSeconds(call);
  const hangupRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (focusHangup) hangupRef.current?.focus();
  }, [focusHangup]);
  const live = LIVE.has(call.status);
  const connected = call.status === 'in-progress';
  return (
    <li data-testid="phone-call" data-call={call.id} data-status={call.status}>
      <div>
        <strong>{call.displayName}</strong> <span class="chip info">{ROLE_NAMES[call.role]}</span> <span class="hint">…{call.numberLast4}</span>
      </div>
      <div data-testid="phone-status" style={{ marginTop: '0.2em' }}>
        <span class={`chip ${STATUS_CHIP[call.status]}`} role="status" aria-live="polite">
          {STATUS_TEXT[call.status]}
        </span>{' '}
        {seconds !== null && (
          <span class="hint" data-testid="phone-timer" aria-label={`connected for ${Math.floor(seconds / 60)} minutes ${seconds % 60} seconds`}>
            {mmss(seconds)}
          </span>
        )}
        {!live && call.duration ? <span class="hint">{mmss(call.duration)}</span> : null}
        {call.viaInterpreterService && <span class="hint"> · interpreter service</span>}
      </div>
      {live && (
        <div class="guest-actions">
          {connected && (
            <button type="button" class="small secondary" aria-expanded={keypad} onClick={() => setKeypad(!keypad)}>
              Keypad<span class="sr-only"> for {call.displayName}</span>
            </button>
          )}
          <button
            type="button"
            ref={hangupRef}
            class="small danger"
            onClick={() => post(`${callsUrl(appointmentId)}/${call.id}/hangup`).catch((err) => onError(errorOf(err)))}
            aria-label={`Hang up ${call.displayName}`}
          >
            Hang up
          </button>
        </div>
      )}
      {connected && keypad && <Keypad call={call} appointmentId={appointmentId} onError={onError} />}
    </li>
  );
}

/**
 * Everything the visit screen shows about phone legs: the call dialog (over the video), the
 * "Call by phone" button (in the control bar) and the list with live status, keypad and hang-up
 * (beside the video). Feed `onEvent` the `phone.status` events of this visit.
 */
export function usePhoneCalls(appointmentId: string) {
  const [enabled, setEnabled] = useState(false);
  const [calls, setCalls] = useState<PhoneCallView[]>([]);
  const [dialing, setDialing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [focusCall, setFocusCall] = useState<string | null>(null);
  const merge = (c: PhoneCallView) => setCalls((l) => (l.some((x) => x.id === c.id) ? l.map((x) => (x.id === c.id && order(c.status) >= order(x.status) ? c : x)) : [...l, c]));
  const reload = async () => {
    try {
      const r = await get<{ enabled: boolean; calls: PhoneCallView[] }>(callsUrl(appointmentId));
      setEnabled(r.enabled);
      setCalls(r.calls);
    } catch (err) {
      setError(errorOf(err));
    }
  };
  useEffect(() => {
    void reload();
  }, [appointmentId]);

  const open = () => setDialing(true);
  const dialog = dialing && (
    <CallDialog
      appointmentId={appointmentId}
      onClose={(created) => {
        setDialing(false);
        if (created) {
          merge(created);
          setFocusCall(created.id);
        }
      }}
    />
  );

  const notice = (
    <>
      {error && (
        <div class="guest-alerts">
          <div class="guest-alert error-alert" role="alert">
            {error}
            <button class="small quiet" onClick={() => setError(null)} aria-label="Dismiss">
              ✕
            </button>
          </div>
        </div>
      )}
      {dialog}
    </>
  );

  const controls = enabled ? (
    <button onClick={open}>
      <PhoneIcon /> Call by phone
    </button>
  ) : null;

  // Live calls first, then the latest ended ones.
  const shown = [...calls.filter((c) => LIVE.has(c.status)), ...calls.filter((c) => !LIVE.has(c.status)).reverse().slice(0, 3)];
  const panel = enabled ? (
    <section class="guest-list" aria-labelledby="phones-title" data-testid="phone-list">
      <div class="section-title" style={{ marginBottom: '0.3em' }}>
        <h2 id="phones-title" style={{ margin: 0 }}>
          Phone
        </h2>
        <button class="small secondary" onClick={open}>
          + Call
        </button>
      </div>
      {shown.length === 0 ? (
        <p class="muted" style={{ margin: 0 }}>
          No calls. Call an interpreter or anyone else by phone into this visit.
        </p>
      ) : (
        <ul>
          {shown.map((c) => (
            <CallLine key={c.id} call={c} appointmentId={appointmentId} onError={setError} focusHangup={focusCall === c.id} />
          ))}
        </ul>
      )}
    </section>
  ) : null;

  return { enabled, calls, reload, onEvent: merge, notice, controls, panel };
}

/** Status events may arrive out of order with the dial answer: never go back from a later state. */
function order(s: PhoneStatus): number {
  return s === 'queued' ? 0 : s === 'initiated' ? 1 : s === 'ringing' ? 2 : s === 'in-progress' ? 3 : 4;
}
