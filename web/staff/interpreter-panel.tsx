// The clinic's interpreter service, for the provider in the visit (shown only when the clinic
// has one): "Request interpreter" (language, by video link or by phone) and the requests with
// their live status and Cancel. A video interpreter then shows up as a waiting guest to admit.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useDialog } from '../shared/use-dialog.js';
import { get, post } from '../shared/api.js';

export type InterpreterStatus = 'requested' | 'accepted' | 'connecting' | 'connected' | 'completed' | 'canceled' | 'failed';

export interface InterpreterRequestView {
  id: string;
  language: string;
  languageName: string;
  mode: 'video' | 'phone';
  status: InterpreterStatus;
  interpreterName: string | null;
  message: string | null;
  invitationId: string | null;
  phoneCallId: string | null;
  createdAt: string;
  updatedAt: string;
  endedAt: string | null;
}

const STATUS_TEXT: Record<InterpreterStatus, string> = {
  requested: 'Requested',
  accepted: 'Accepted',
  connecting: 'On the way',
  connected: 'Connected',
  completed: 'Done',
  canceled: 'Canceled',
  failed: 'Failed',
};
const STATUS_CHIP: Record<InterpreterStatus, string> = { requested: 'info', accepted: 'info', connecting: 'warn', connected: 'ok', completed: '', canceled: '', failed: 'bad' };
const OPEN: ReadonlySet<InterpreterStatus> = new Set(['requested', 'accepted', 'connecting', 'connected']);

/** Languages most often asked for in US clinics; the service may know more (any BCP 47 tag). */
const LANGUAGES: Array<[string, string]> = [
  ['es', 'Spanish'],
  ['zh', 'Chinese (Mandarin)'],
  ['yue', 'Cantonese'],
  ['vi', 'Vietnamese'],
  ['ar', 'Arabic'],
  ['ko', 'Korean'],
  ['ru', 'Russian'],
  ['tl', 'Tagalog'],
  ['ht', 'Haitian Creole'],
  ['pt', 'Portuguese'],
  ['fr', 'French'],
  ['so', 'Somali'],
  ['ase', 'American Sign Language'],
];

const url = (appointmentId: string) => `/api/appointments/${appointmentId}/interpreter-requests`;
const errorOf = (err: unknown) => (err as Error).message;

function RequestDialog({ appointmentId, phone, onClose }: { appointmentId: string; phone: boolean; onClose: (created: InterpreterRequestView | null) => void }) {
  const [language, setLanguage] = useState('es');
  const [mode, setMode] = useState<'video' | 'phone'>('video');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const dialog = useDialog<HTMLDivElement>(() => onClose(null));
  return (
    <div class="overlay" ref={dialog} role="dialog" aria-modal="true" aria-labelledby="interp-title" data-testid="interpreter-dialog">
      <form
        class="dialog invite-dialog"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            onClose(await post<InterpreterRequestView>(url(appointmentId), { language, mode }));
          } catch (err) {
            setError(errorOf(err));
            setBusy(false);
          }
        }}
      >
        <h2 id="interp-title">Request an interpreter</h2>
        <p class="muted">The clinic’s interpreter service sends an interpreter for this visit only.</p>
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        <label for="interp-language">Language</label>
        <select id="interp-language" value={language} onChange={(e) => setLanguage((e.target as HTMLSelectElement).value)}>
          {LANGUAGES.map(([tag, name]) => (
            <option key={tag} value={tag}>
              {name}
            </option>
          ))}
        </select>
        <fieldset style={{ border: 0, padding: 0, margin: '0.9em 0 0' }}>
          <legend style={{ fontWeight: 600, padding: 0 }}>How they join</legend>
          <label style={{ fontWeight: 400, display: 'flex', gap: '0.5em', alignItems: 'center', margin: '0.4em 0' }}>
            <input type="radio" name="interp-mode" value="video" checked={mode === 'video'} onChange={() => setMode('video')} style={{ width: 'auto', minHeight: 0 }} /> By video, with a link for this visit
          </label>
          {phone && (
            <label style={{ fontWeight: 400, display: 'flex', gap: '0.5em', alignItems: 'center', margin: '0.4em 0' }}>
              <input type="radio" name="interp-mode" value="phone" checked={mode === 'phone'} onChange={() => setMode('phone')} style={{ width: 'auto', minHeight: 0 }} /> By phone (we call them in)
            </label>
          )}
        </fieldset>
        <div class="actions">
          <button type="submit" disabled={busy}>
            Request
          </button>
          <button type="button" class="secondary" onClick={() => onClose(null)}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}

/** The interpreter service in the visit screen; feed `onEvent` the `interpreter.status` events of this visit. */
export function useInterpreterRequests(appointmentId: string) {
  const [configured, setConfigured] = useState(false);
  const [phone, setPhone] = useState(false);
  const [requests, setRequests] = useState<InterpreterRequestView[]>([]);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const merge = (r: InterpreterRequestView) => setRequests((l) => (l.some((x) => x.id === r.id) ? l.map((x) => (x.id === r.id && r.updatedAt >= x.updatedAt ? r : x)) : [...l, r]));
  useEffect(() => {
    get<{ configured: boolean; phone: boolean; requests: InterpreterRequestView[] }>(url(appointmentId)).then(
      (r) => {
        setConfigured(r.configured);
        setPhone(r.phone);
        setRequests(r.requests);
      },
      (err) => setError(errorOf(err)),
    );
  }, [appointmentId]);

  const notice = asking && (
    <RequestDialog
      appointmentId={appointmentId}
      phone={phone}
      onClose={(created) => {
        setAsking(false);
        if (created) merge(created);
      }}
    />
  );

  const shown = [...requests.filter((r) => OPEN.has(r.status)), ...requests.filter((r) => !OPEN.has(r.status)).reverse().slice(0, 2)];
  const panel = configured ? (
    <section class="guest-list" aria-labelledby="interp-list-title" data-testid="interpreter-requests">
      <div class="section-title" style={{ marginBottom: '0.3em' }}>
        <h2 id="interp-list-title" style={{ margin: 0 }}>
          Interpreters
        </h2>
        <button class="small secondary" onClick={() => setAsking(true)}>
          Request interpreter
        </button>
      </div>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {shown.length === 0 ? (
        <p class="muted" style={{ margin: 0 }}>
          Ask the clinic’s interpreter service for an interpreter in the patient’s language.
        </p>
      ) : (
        <ul>
          {shown.map((r) => (
            <li key={r.id} data-testid="interpreter-request" data-status={r.status}>
              <div>
                <strong>{r.languageName}</strong> <span class="chip info">{r.mode === 'video' ? 'Video' : 'Phone'}</span>{' '}
                <span class={`chip ${STATUS_CHIP[r.status]}`} role="status" aria-live="polite">
                  {STATUS_TEXT[r.status]}
                </span>
              </div>
              {(r.interpreterName || r.message) && <div class="hint">{[r.interpreterName, r.message].filter(Boolean).join(' · ')}</div>}
              {OPEN.has(r.status) && (
                <div class="guest-actions">
                  <button class="small quiet" onClick={() => post<InterpreterRequestView>(`${url(appointmentId)}/${r.id}/cancel`).then(merge, (err) => setError(errorOf(err)))}>
                    Cancel<span class="sr-only"> the {r.languageName} interpreter request</span>
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  ) : null;

  return { configured, requests, onEvent: merge, notice, panel };
}
