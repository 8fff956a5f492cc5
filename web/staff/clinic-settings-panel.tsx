// Admin: what the clinic asks before visits, when reminders go out, what patients watch while waiting.
import { useEffect, useState } from 'preact/hooks';
import { api, get } from '../shared/api.js';
import { handleError } from './main.js';

interface Question {
  id: string;
  kind: 'text' | 'longtext' | 'yesno';
  label: { en: string; es: string };
  required: boolean;
}
interface Settings {
  reminderOffsetsMinutes: number[];
  intakeQuestions: Question[];
  waitingRoomVideo: { kind: 'file'; url: string } | { kind: 'youtube'; videoId: string } | null;
  guestsNeedAdmission: boolean;
}

const REMINDERS = [
  { minutes: 1440, label: '1 day before' },
  { minutes: 120, label: '2 hours before' },
  { minutes: 15, label: '15 minutes before' },
];

export function ClinicSettingsPanel() {
  const [s, setS] = useState<Settings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    get<Settings>('/api/clinic/settings').then(setS, (err) => handleError(err, setError));
  }, []);
  if (!s) return null;
  const setQ = (i: number, patch: Partial<Question>) => setS({ ...s, intakeQuestions: s.intakeQuestions.map((q, j) => (j === i ? { ...q, ...patch } : q)) });
  const videoKind = s.waitingRoomVideo?.kind ?? 'none';
  return (
    <section class="card" style={{ marginTop: '1.2em' }} aria-labelledby="settings-title">
      <h2 id="settings-title">Clinic settings</h2>
      {error && <div class="error" role="alert">{error}</div>}
      {saved && <div class="success" role="status">Saved.</div>}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            setS(await api<Settings>('PATCH', '/api/clinic/settings', s));
            setSaved(true);
            setError(null);
          } catch (err) {
            setSaved(false);
            handleError(err, setError);
          }
        }}
      >
        <fieldset style={{ border: 0, padding: 0 }}>
          <legend><strong>Text reminders</strong></legend>
          {REMINDERS.map((r) => (
            <label class="check" key={r.minutes}>
              <input
                type="checkbox"
                checked={s.reminderOffsetsMinutes.includes(r.minutes)}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  setS({ ...s, reminderOffsetsMinutes: on ? [...s.reminderOffsetsMinutes, r.minutes].sort((a, b) => b - a) : s.reminderOffsetsMinutes.filter((m) => m !== r.minutes) });
                }}
              />
              <span>{r.label}</span>
            </label>
          ))}
        </fieldset>
        <label class="check" style={{ marginTop: '1em' }}>
          <input type="checkbox" checked={s.guestsNeedAdmission} onChange={(e) => setS({ ...s, guestsNeedAdmission: (e.target as HTMLInputElement).checked })} />
          <span>Invited guests (interpreters, family) wait until the provider lets them in</span>
        </label>
        <label for="video-kind">Waiting-room video</label>
        <select
          id="video-kind"
          value={videoKind}
          onChange={(e) => {
            const k = (e.target as HTMLSelectElement).value;
            setS({ ...s, waitingRoomVideo: k === 'none' ? null : k === 'file' ? { kind: 'file', url: '/media/' } : { kind: 'youtube', videoId: '' } });
          }}
        >
          <option value="none">None (tips only)</option>
          <option value="file">A video file we host (put it in the data folder's media/)</option>
          <option value="youtube">A YouTube video (privacy-enhanced mode)</option>
        </select>
        {s.waitingRoomVideo?.kind === 'file' && (
          <input aria-label="Video file address" value={s.waitingRoomVideo.url} onInput={(e) => setS({ ...s, waitingRoomVideo: { kind: 'file', url: (e.target as HTMLInputElement).value } })} placeholder="/media/healthy-eating.mp4" />
        )}
        {s.waitingRoomVideo?.kind === 'youtube' && (
          <input aria-label="YouTube video id" value={s.waitingRoomVideo.videoId} onInput={(e) => setS({ ...s, waitingRoomVideo: { kind: 'youtube', videoId: (e.target as HTMLInputElement).value } })} placeholder="dQw4w9WgXcQ" />
        )}
        <h3 style={{ marginTop: '1.2em' }}>Intake questions</h3>
        {s.intakeQuestions.map((q, i) => (
          <div key={i} class="queue-item">
            <div class="row">
              <div>
                <label for={`q-en-${i}`}>Question (English)</label>
                <input id={`q-en-${i}`} required value={q.label.en} onInput={(e) => setQ(i, { label: { ...q.label, en: (e.target as HTMLInputElement).value } })} />
              </div>
              <div>
                <label for={`q-es-${i}`}>Question (Spanish)</label>
                <input id={`q-es-${i}`} required value={q.label.es} onInput={(e) => setQ(i, { label: { ...q.label, es: (e.target as HTMLInputElement).value } })} />
              </div>
            </div>
            <div class="row" style={{ alignItems: 'flex-end' }}>
              <div>
                <label for={`q-kind-${i}`}>Answer</label>
                <select id={`q-kind-${i}`} value={q.kind} onChange={(e) => setQ(i, { kind: (e.target as HTMLSelectElement).value as Question['kind'] })}>
                  <option value="text">Short text</option>
                  <option value="longtext">Long text</option>
                  <option value="yesno">Yes / no</option>
                </select>
              </div>
              <label class="check" style={{ marginBottom: '0.6em' }}>
                <input type="checkbox" checked={q.required} onChange={(e) => setQ(i, { required: (e.target as HTMLInputElement).checked })} />
                <span>Required</span>
              </label>
              <button type="button" class="quiet small" onClick={() => setS({ ...s, intakeQuestions: s.intakeQuestions.filter((_, j) => j !== i) })}>
                Remove
              </button>
            </div>
          </div>
        ))}
        <button
          type="button"
          class="secondary small"
          onClick={() => setS({ ...s, intakeQuestions: [...s.intakeQuestions, { id: `q_${Date.now().toString(36)}`, kind: 'text', label: { en: '', es: '' }, required: false }] })}
        >
          + Add a question
        </button>
        <div class="actions">
          <button type="submit">Save settings</button>
        </div>
      </form>
    </section>
  );
}
