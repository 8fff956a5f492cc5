import { useEffect, useState } from 'preact/hooks';
import { get } from '../shared/api.js';
import { dateTimeOf, timeOf } from '../shared/format.js';
import { handleError, navigate, type Me } from './main.js';

interface VisitRecord {
  appointmentId: string;
  patientName: string;
  providerName: string;
  scheduledStart: string;
  visitStart: string | null;
  visitEnd: string | null;
  durationSeconds: number | null;
  participants: { name: string; role: string; joinedAt: string; leftAt: string | null; durationSeconds: number | null }[];
  chat: { id: number; name: string; body: string; at: string }[];
  precall: Record<string, unknown> | null;
  intake: Record<string, string> | null;
  intakeLabels: Record<string, string>;
  copayAcknowledgedAt: string | null;
  consentGivenAt: string | null;
}

const minutes = (s: number | null) => (s === null ? '—' : s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`);

export function RecordPage({ appointmentId }: { me: Me; appointmentId: string }) {
  const [r, setR] = useState<VisitRecord | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    get<VisitRecord>(`/api/appointments/${appointmentId}/record`).then(setR, (err) => handleError(err, setError));
  }, [appointmentId]);
  if (error) return <main class="page"><div class="error" role="alert">{error}</div></main>;
  if (!r) return <main class="page muted">Loading…</main>;
  return (
    <main class="page" style={{ maxWidth: '900px' }} data-testid="visit-record">
      <button class="quiet" onClick={() => navigate('/staff')}>← Today</button>
      <div class="card">
        <h1>Visit record · {r.patientName}</h1>
        <p class="muted">
          With {r.providerName} · scheduled {dateTimeOf(r.scheduledStart)}
        </p>
        <div class="row" style={{ margin: '1em 0' }}>
          <div><div class="muted">Started</div><strong>{r.visitStart ? timeOf(r.visitStart) : '—'}</strong></div>
          <div><div class="muted">Ended</div><strong>{r.visitEnd ? timeOf(r.visitEnd) : '—'}</strong></div>
          <div><div class="muted">Duration</div><strong data-testid="record-duration">{minutes(r.durationSeconds)}</strong></div>
        </div>
        <h2>Who joined</h2>
        <table class="schedule">
          <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Joined</th><th scope="col">Left</th><th scope="col">Time in visit</th></tr></thead>
          <tbody>
            {r.participants.map((p, i) => (
              <tr key={i} data-testid="record-participant">
                <td>{p.name}</td><td>{p.role}</td><td>{timeOf(p.joinedAt)}</td><td>{p.leftAt ? timeOf(p.leftAt) : 'still in'}</td><td>{minutes(p.durationSeconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2 style={{ marginTop: '1.2em' }}>Before the visit</h2>
        <ul>
          <li>Copay acknowledged: {r.copayAcknowledgedAt ? dateTimeOf(r.copayAcknowledgedAt) : 'no'}</li>
          <li>Consent given: {r.consentGivenAt ? dateTimeOf(r.consentGivenAt) : 'no'}</li>
          <li>Checks: {r.precall ? ['browser', 'camera', 'microphone', 'network'].map((k) => `${k} ${String(r.precall![k])}`).join(', ') : 'not run'}</li>
        </ul>
        {r.intake && (
          <>
            <h2>Intake answers</h2>
            <dl>
              {Object.entries(r.intake).filter(([, v]) => v).map(([k, v]) => (
                <div key={k} style={{ marginBottom: '0.6em' }}><dt class="muted">{r.intakeLabels[k] ?? k}</dt><dd style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{v}</dd></div>
              ))}
            </dl>
          </>
        )}
        <h2>Chat transcript</h2>
        {r.chat.length === 0 ? <p class="muted">No messages.</p> : (
          <ul class="check-list">
            {r.chat.map((m) => <li key={m.id}><strong>{m.name}</strong> <span class="muted">{timeOf(m.at)}</span> {m.body}</li>)}
          </ul>
        )}
      </div>
    </main>
  );
}
