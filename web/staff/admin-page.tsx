import { useEffect, useState } from 'preact/hooks';
import { api, get } from '../shared/api.js';
import { dateTimeOf } from '../shared/format.js';
import { handleError, type Me } from './main.js';
import { ClinicSettingsPanel } from './clinic-settings-panel.js';

interface StaffRow { id: string; email: string; displayName: string; role: string; seesAllSchedules: boolean; totpEnabled: boolean; active: boolean }
interface AuditRow { id: number; at: string; actorKind: string; actorName: string | null; action: string; subjectKind: string | null; subjectId: string | null; ip: string | null }

export function AdminPage(_props: { me: Me }) {
  const [staff, setStaff] = useState<StaffRow[]>([]);
  const [audit, setAudit] = useState<AuditRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ email: '', displayName: '', role: 'provider', password: '' });
  const load = () => {
    get<StaffRow[]>('/api/staff').then(setStaff, (err) => handleError(err, setError));
    get<AuditRow[]>('/api/audit').then(setAudit, (err) => handleError(err, setError));
  };
  useEffect(load, []);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  return (
    <main class="page">
      {error && <div class="error" role="alert">{error}</div>}
      <div class="grid-2">
        <section class="card">
          <h2>Add a staff member</h2>
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              try {
                await api('POST', '/api/staff', form);
                setForm({ email: '', displayName: '', role: 'provider', password: '' });
                setError(null);
                load();
              } catch (err) {
                handleError(err, setError);
              }
            }}
          >
            <label for="s-name">Name</label>
            <input id="s-name" required value={form.displayName} onInput={set('displayName')} />
            <label for="s-email">Email</label>
            <input id="s-email" type="email" required value={form.email} onInput={set('email')} />
            <label for="s-role">Role</label>
            <select id="s-role" value={form.role} onChange={set('role')}>
              <option value="provider">Provider</option>
              <option value="front_desk">Front desk</option>
              <option value="admin">Admin</option>
            </select>
            <label for="s-pass">First password <span class="hint">at least 12 characters; share it privately</span></label>
            <input id="s-pass" type="password" minLength={12} required value={form.password} onInput={set('password')} autocomplete="new-password" />
            <div class="actions"><button type="submit">Add</button></div>
          </form>
        </section>
        <section class="card">
          <h2>Staff</h2>
          <table class="schedule">
            <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Two-step</th><th scope="col">Whole schedule</th><th scope="col">Active</th></tr></thead>
            <tbody>
              {staff.map((s) => (
                <tr key={s.id}>
                  <td>{s.displayName}<div class="muted" style={{ fontSize: '0.85rem' }}>{s.email}</div></td>
                  <td>{s.role.replace('_', ' ')}</td>
                  <td>{s.totpEnabled ? <span class="chip ok">on</span> : <span class="chip">off</span>}</td>
                  <td>
                    {s.role === 'provider' ? (
                      <input type="checkbox" aria-label={`${s.displayName} sees the whole clinic schedule`} checked={s.seesAllSchedules} onChange={async (e) => { await api('PATCH', `/api/staff/${s.id}`, { seesAllSchedules: (e.target as HTMLInputElement).checked }).catch((err) => handleError(err, setError)); load(); }} />
                    ) : '—'}
                  </td>
                  <td>
                    <input type="checkbox" aria-label={`${s.displayName} active`} checked={s.active} onChange={async (e) => { await api('PATCH', `/api/staff/${s.id}`, { active: (e.target as HTMLInputElement).checked }).catch((err) => handleError(err, setError)); load(); }} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <ClinicSettingsPanel />
      <section class="card" style={{ marginTop: '1.2em' }}>
        <h2>Audit log <span class="hint">every access to patient data, newest first</span></h2>
        <table class="schedule" data-testid="audit-log">
          <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Record</th><th scope="col">From</th></tr></thead>
          <tbody>
            {audit.map((a) => (
              <tr key={a.id}>
                <td>{dateTimeOf(a.at)}</td>
                <td>{a.actorName ?? a.actorKind}</td>
                <td><code>{a.action}</code></td>
                <td class="muted">{a.subjectId ?? ''}</td>
                <td class="muted">{a.ip ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </main>
  );
}
