// The patient's "Invite a family member": a small card in the waiting room that opens the same
// invite dialog as the provider's (in the patient's language), and lists who they invited.
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../shared/api.js';
import { InviteDialog, type GuestView } from '../shared/invite-dialog.js';
import { GUEST_STRINGS } from '../guest/i18n.js';
import type { Lang } from './i18n.js';

export function PatientGuests({ lang }: { lang: Lang }) {
  const g = GUEST_STRINGS[lang];
  const [guests, setGuests] = useState<GuestView[]>([]);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const reload = () => get<GuestView[]>('/api/patient/guests').then(setGuests, () => undefined);
  useEffect(() => {
    void reload();
    // Their state (waiting, in the visit) changes on the clinic's side.
    const timer = setInterval(() => void reload(), 15_000);
    return () => clearInterval(timer);
  }, []);
  const errorText = (err: unknown) => g.errors[(err as { code?: string }).code ?? ''] ?? (err as Error).message;
  const mine = guests.filter((x) => !x.revokedAt && x.createdBy === 'patient');

  return (
    <div class="card" style={{ marginTop: '1em' }} data-testid="patient-guests">
      <h2>{g.invite.cardTitle}</h2>
      <p class="muted">{g.invite.cardIntro}</p>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {mine.length > 0 && (
        <>
          <h3>{g.invite.yours}</h3>
          <ul class="guest-list plain">
            {mine.map((x) => (
              <li key={x.id}>
                <span>
                  <strong>{x.displayName}</strong> · {g.roles[x.role]} <span class="chip">{g.invite.states[x.state]}</span>
                </span>
                <button
                  class="small quiet"
                  aria-label={`${g.invite.remove}: ${x.displayName}`}
                  onClick={() =>
                    post(`/api/patient/guests/${x.id}/revoke`).then(
                      () => reload(),
                      (err) => setError(errorText(err)),
                    )
                  }
                >
                  {g.invite.remove}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
      <button class="secondary" onClick={() => setOpen(true)}>
        {g.invite.open}
      </button>
      {open && (
        <InviteDialog
          labels={g.invite.dialog}
          roles={['family', 'caregiver', 'interpreter']}
          create={(body) => post<GuestView>('/api/patient/guests', body)}
          errorText={errorText}
          onClose={(created) => {
            setOpen(false);
            if (created) void reload();
          }}
        />
      )}
    </div>
  );
}
