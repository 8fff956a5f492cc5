import { useEffect, useState } from 'preact/hooks';
import { get } from '../shared/api.js';
import { timeOf } from '../shared/format.js';
import type { Appointment } from './dashboard.js';
import { handleError, type Me } from './main.js';

function weekStart(offsetWeeks: number): Date {
  const d = new Date();
  const monday = new Date(d.getFullYear(), d.getMonth(), d.getDate() - ((d.getDay() + 6) % 7) + offsetWeeks * 7);
  return monday;
}

export function WeekPage(_props: { me: Me }) {
  const [offset, setOffset] = useState(0);
  const [items, setItems] = useState<Appointment[]>([]);
  const [error, setError] = useState<string | null>(null);
  const start = weekStart(offset);
  const days = Array.from({ length: 7 }, (_, i) => new Date(start.getFullYear(), start.getMonth(), start.getDate() + i));
  useEffect(() => {
    const end = new Date(start.getFullYear(), start.getMonth(), start.getDate() + 7);
    get<Appointment[]>(`/api/appointments?from=${encodeURIComponent(start.toISOString())}&to=${encodeURIComponent(end.toISOString())}`).then(setItems, (err) => handleError(err, setError));
  }, [offset]);
  return (
    <main class="page">
      {error && <div class="error" role="alert">{error}</div>}
      <div class="section-title">
        <h1>Week of {start.toLocaleDateString('en-US', { month: 'long', day: 'numeric' })}</h1>
        <div class="actions" style={{ marginTop: 0 }}>
          <button class="secondary small" onClick={() => setOffset(offset - 1)}>← Previous</button>
          <button class="secondary small" onClick={() => setOffset(0)}>This week</button>
          <button class="secondary small" onClick={() => setOffset(offset + 1)}>Next →</button>
        </div>
      </div>
      <div class="week">
        {days.map((d) => {
          const list = items.filter((a) => new Date(a.startsAt).toDateString() === d.toDateString());
          return (
            <section class="day" key={d.toISOString()} aria-label={d.toDateString()}>
              <h3>{d.toLocaleDateString('en-US', { weekday: 'short', month: 'short', day: 'numeric' })}</h3>
              {list.length === 0 && <p class="muted" style={{ fontSize: '0.85rem' }}>—</p>}
              {list.map((a) => (
                <div key={a.id} class={`slot ${a.status === 'cancelled' ? 'cancelled' : ''}`}>
                  <strong>{timeOf(a.startsAt)}</strong> {a.patientName}
                  <div class="muted">{a.providerName}</div>
                </div>
              ))}
            </section>
          );
        })}
      </div>
    </main>
  );
}
