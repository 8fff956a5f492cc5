import { useEffect, useState } from 'preact/hooks';
import { useDialog } from '../shared/use-dialog.js';
import { api, get } from '../shared/api.js';
import type { Appointment } from './dashboard.js';
import { handleError, type Me } from './main.js';

interface StaffEntry {
  id: string;
  displayName: string;
  role: string;
}

function localInputValue(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function nextQuarterHour(): string {
  const d = new Date(Date.now() + 15 * 60_000);
  d.setMinutes(Math.ceil(d.getMinutes() / 15) * 15, 0, 0);
  return d.toISOString();
}

/** Book or edit an appointment. The visit reason stays inside the clinic: never in a text or a link. */
export function AppointmentForm({ me, existing, onClose, onSaved }: { me: Me; existing: Appointment | null; onClose: () => void; onSaved: () => void }) {
  const dialog = useDialog<HTMLDivElement>(onClose);
  const [providers, setProviders] = useState<StaffEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [f, setF] = useState({
    providerId: existing?.providerId ?? (me.role === 'provider' ? me.id : ''),
    patientName: existing?.patientName ?? '',
    patientPhone: existing?.patientPhone ?? '',
    patientDob: existing?.clinical?.patientDob ?? '',
    language: existing?.language ?? 'en',
    interpreterNeeded: existing?.interpreterNeeded ?? false,
    reason: existing?.clinical?.reason ?? '',
    startsAt: localInputValue(existing?.startsAt ?? nextQuarterHour()),
    durationMinutes: existing?.durationMinutes ?? 20,
    copay: existing ? (existing.copayCents / 100).toFixed(2) : '0.00',
    expectedParticipants: existing?.expectedParticipants ?? 2,
  });
  const set = (k: keyof typeof f) => (e: Event) => {
    const t = e.target as HTMLInputElement;
    setF({ ...f, [k]: t.type === 'checkbox' ? t.checked : t.value });
  };
  useEffect(() => {
    get<StaffEntry[]>('/api/staff').then((list) => {
      const ps = list.filter((s) => s.role === 'provider');
      setProviders(ps);
      if (!f.providerId && ps[0]) setF((cur) => ({ ...cur, providerId: ps[0]!.id }));
    }, (err) => handleError(err, setError));
  }, []);

  const clinicalVisible = me.role !== 'front_desk';
  return (
    <div class="overlay" ref={dialog} role="dialog" aria-modal="true" aria-labelledby="appt-title">
      <form
        class="dialog"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          const body: Record<string, unknown> = {
            providerId: f.providerId,
            patientName: f.patientName,
            patientPhone: f.patientPhone,
            language: f.language,
            interpreterNeeded: f.interpreterNeeded,
            startsAt: new Date(f.startsAt).toISOString(),
            durationMinutes: Number(f.durationMinutes),
            copayCents: Math.round(Number(f.copay) * 100),
            expectedParticipants: Number(f.expectedParticipants),
          };
          if (clinicalVisible || !existing) {
            body.patientDob = f.patientDob;
            body.reason = f.reason;
          }
          try {
            if (existing) await api('PATCH', `/api/appointments/${existing.id}`, body);
            else await api('POST', '/api/appointments', body);
            onSaved();
            onClose();
          } catch (err) {
            handleError(err, setError);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2 id="appt-title">{existing ? 'Edit appointment' : 'New video appointment'}</h2>
        {error && <div class="error" role="alert">{error}</div>}
        <div class="row">
          <div>
            <label for="f-name">Patient name</label>
            <input id="f-name" required value={f.patientName} onInput={set('patientName')} autocomplete="off" />
          </div>
          <div>
            <label for="f-phone">
              Mobile number <span class="hint">for the text with the link</span>
            </label>
            <input id="f-phone" type="tel" required value={f.patientPhone} onInput={set('patientPhone')} placeholder="(555) 123-4567" autocomplete="off" />
          </div>
        </div>
        <div class="row">
          {(clinicalVisible || !existing) && (
            <div>
              <label for="f-dob">
                Date of birth <span class="hint">the patient confirms it</span>
              </label>
              <input id="f-dob" type="date" required value={f.patientDob} onInput={set('patientDob')} />
            </div>
          )}
          <div>
            <label for="f-lang">Language</label>
            <select id="f-lang" value={f.language} onChange={set('language')}>
              <option value="en">English</option>
              <option value="es">Español (Spanish)</option>
            </select>
          </div>
        </div>
        <div class="row">
          <div>
            <label for="f-provider">Provider</label>
            <select id="f-provider" required value={f.providerId} onChange={set('providerId')} disabled={me.role === 'provider' && !me.seesAllSchedules}>
              {providers.map((p) => (
                <option key={p.id} value={p.id}>{p.displayName}</option>
              ))}
            </select>
          </div>
          <div>
            <label for="f-start">Start</label>
            <input id="f-start" type="datetime-local" required value={f.startsAt} onInput={set('startsAt')} />
          </div>
          <div style={{ flex: '0 1 120px' }}>
            <label for="f-dur">Minutes</label>
            <select id="f-dur" value={String(f.durationMinutes)} onChange={set('durationMinutes')}>
              {[10, 15, 20, 30, 45, 60].map((m) => (
                <option key={m} value={String(m)}>{m}</option>
              ))}
            </select>
          </div>
        </div>
        <div class="row">
          <div>
            <label for="f-copay">Copay ($)</label>
            <input id="f-copay" inputMode="decimal" pattern="[0-9]+(\.[0-9]{1,2})?" value={f.copay} onInput={set('copay')} />
          </div>
          <div>
            <label for="f-people">People in the visit</label>
            <select id="f-people" value={String(f.expectedParticipants)} onChange={set('expectedParticipants')}>
              <option value="2">2 (patient and provider)</option>
              <option value="3">3 (with interpreter or family)</option>
              <option value="4">4</option>
            </select>
          </div>
        </div>
        <label class="check" style={{ marginTop: '1em' }}>
          <input type="checkbox" checked={f.interpreterNeeded} onChange={set('interpreterNeeded')} />
          <span>Needs an interpreter</span>
        </label>
        {(clinicalVisible || !existing) && (
          <>
            <label for="f-reason">
              Visit reason <span class="hint">stays inside the clinic, never sent to the patient's phone</span>
            </label>
            <textarea id="f-reason" value={f.reason} onInput={set('reason')} maxLength={2000} />
          </>
        )}
        <div class="actions">
          <button type="submit" disabled={busy}>
            {existing ? 'Save changes' : 'Book and text the patient'}
          </button>
          <button type="button" class="quiet" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
    </div>
  );
}
