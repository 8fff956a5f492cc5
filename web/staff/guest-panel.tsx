// Guests of a visit, for the provider: "Invite someone" (role, name, optional mobile → the link
// to copy, texted if a number was given), "Interpreter Ana is waiting" with Admit / Decline over
// the video and in the dashboard's queue item, and the list of invitations with Revoke.
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../shared/api.js';
import { Icon } from '../shared/icons.js';
import { copyText, InviteDialog, type GuestRole, type GuestView, type InviteLabels } from '../shared/invite-dialog.js';

export const ROLE_NAMES: Record<GuestRole, string> = { interpreter: 'Interpreter', family: 'Family member', caregiver: 'Caregiver', clinician: 'Clinician' };

const STATE_NAMES: Record<GuestView['state'], string> = { invited: 'Invited', waiting: 'Waiting', admitted: 'Let in', left: 'Left' };

export const STAFF_INVITE_LABELS: InviteLabels = {
  title: 'Invite someone to this visit',
  intro: 'An interpreter, a family member, a caregiver or another clinician joins from their own device with a link for this visit only.',
  role: 'Role',
  name: 'Name',
  phone: 'Mobile number (optional)',
  phoneHint: 'If you enter a number, we text them the link (clinic name and link only).',
  create: 'Create invitation',
  cancel: 'Cancel',
  readyTitle: 'Invitation ready',
  linkFor: (name) => `Link for ${name}`,
  copy: 'Copy',
  copied: 'Copied',
  texted: (last4) => `Text message queued to the number ending in ${last4}.`,
  onlyThem: 'The link works for this visit only, until it ends or you revoke it.',
  done: 'Done',
  roles: ROLE_NAMES,
};

const guestsUrl = (appointmentId: string) => `/api/appointments/${appointmentId}/guests`;
const act = (appointmentId: string, id: string, what: 'admit' | 'decline' | 'revoke') => post(`${guestsUrl(appointmentId)}/${id}/${what}`);
const errorOf = (err: unknown) => (err as Error).message;

function WaitingLine({ g, appointmentId, canAdmit, onChanged, onError }: { g: GuestView; appointmentId: string; canAdmit: boolean; onChanged: () => void; onError: (m: string) => void }) {
  const run = (what: 'admit' | 'decline') => act(appointmentId, g.id, what).then(onChanged, (err) => onError(errorOf(err)));
  return (
    <div class="guest-alert" data-testid="guest-waiting" data-guest={g.id}>
      <Icon name="person" size={18} />
      <span>
        <strong>
          {ROLE_NAMES[g.role]} {g.displayName}
        </strong>{' '}
        is waiting
      </span>
      {canAdmit && (
        <span class="guest-alert-actions">
          <button class="small" onClick={() => void run('admit')} aria-label={`Admit ${g.displayName}`}>
            Admit
          </button>
          <button class="small secondary" onClick={() => void run('decline')} aria-label={`Decline ${g.displayName}`}>
            Decline
          </button>
        </span>
      )}
    </div>
  );
}

/**
 * Everything the visit screen shows about guests: the waiting notices and the invite dialog (over
 * the video), the "Invite someone" button (in the control bar), and the list (beside the video).
 * `reload` is for the page's live events.
 */
export function useVisitGuests(appointmentId: string) {
  const [guests, setGuests] = useState<GuestView[]>([]);
  const [inviting, setInviting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const reload = async () => {
    try {
      setGuests(await get<GuestView[]>(guestsUrl(appointmentId)));
    } catch (err) {
      setError(errorOf(err));
    }
  };
  useEffect(() => {
    void reload();
  }, [appointmentId]);

  const live = guests.filter((g) => !g.revokedAt);
  const waiting = live.filter((g) => g.state === 'waiting');

  const dialog = inviting && (
    <InviteDialog
      labels={STAFF_INVITE_LABELS}
      roles={['interpreter', 'family', 'caregiver', 'clinician']}
      create={(body) => post<GuestView>(guestsUrl(appointmentId), body)}
      errorText={errorOf}
      onClose={(created) => {
        setInviting(false);
        if (created) void reload();
      }}
    />
  );

  const alerts =
    waiting.length > 0 || error ? (
      <div class="guest-alerts" aria-live="polite">
        {error && (
          <div class="guest-alert error-alert" role="alert">
            {error}
            <button class="small quiet" onClick={() => setError(null)} aria-label="Dismiss">
              ✕
            </button>
          </div>
        )}
        {waiting.map((g) => (
          <WaitingLine key={g.id} g={g} appointmentId={appointmentId} canAdmit onChanged={() => void reload()} onError={setError} />
        ))}
      </div>
    ) : null;

  const notice = (
    <>
      {alerts}
      {dialog}
    </>
  );

  const controls = (
    <button onClick={() => setInviting(true)}>
      <Icon name="person" /> Invite someone
    </button>
  );

  const panel = (
    <section class="guest-list" aria-labelledby="guests-title" data-testid="guest-list">
      <div class="section-title" style={{ marginBottom: '0.3em' }}>
        <h2 id="guests-title" style={{ margin: 0 }}>
          Guests
        </h2>
        <button class="small secondary" onClick={() => setInviting(true)}>
          + Invite
        </button>
      </div>
      {live.length === 0 ? (
        <p class="muted" style={{ margin: 0 }}>
          No guests. Invite an interpreter, a family member, a caregiver or a colleague.
        </p>
      ) : (
        <ul>
          {live.map((g) => (
            <li key={g.id} data-testid="guest-item">
              <div>
                <strong>{g.displayName}</strong>{' '}
                <span class="chip info">{ROLE_NAMES[g.role]}</span> <span class={`chip ${g.state === 'admitted' ? 'ok' : g.state === 'waiting' ? 'warn' : ''}`}>{STATE_NAMES[g.state]}</span>
                {g.createdBy === 'patient' && <span class="hint"> · invited by the patient</span>}
              </div>
              <div class="guest-actions">
                {g.state === 'waiting' && (
                  <button class="small" onClick={() => act(appointmentId, g.id, 'admit').then(reload, (err) => setError(errorOf(err)))} aria-label={`Admit ${g.displayName}`}>
                    Admit
                  </button>
                )}
                {g.link && (
                  <button class="small quiet" onClick={() => copyText(g.link!).then((ok) => setCopied(ok ? g.id : null))}>
                    {copied === g.id ? 'Copied' : 'Copy link'}
                    <span class="sr-only"> for {g.displayName}</span>
                  </button>
                )}
                <button
                  class="small quiet"
                  onClick={async () => {
                    if (!confirm(`Remove ${g.displayName} from the visit? Their link stops working.`)) return;
                    await act(appointmentId, g.id, 'revoke').then(reload, (err) => setError(errorOf(err)));
                  }}
                  aria-label={`Revoke ${g.displayName}`}
                >
                  Revoke
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );

  return { guests, reload, notice, controls, panel };
}

/** The dashboard's queue item: who is waiting to join this visit, with Admit / Decline for its provider. */
export function GuestQueueLine({ appointmentId, refreshKey, canAdmit }: { appointmentId: string; refreshKey: unknown; canAdmit: boolean }) {
  const [guests, setGuests] = useState<GuestView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const reload = () => get<GuestView[]>(guestsUrl(appointmentId)).then(setGuests, () => undefined);
  useEffect(() => {
    void reload();
  }, [appointmentId, refreshKey]);
  const waiting = guests.filter((g) => !g.revokedAt && g.state === 'waiting');
  if (waiting.length === 0 && !error) return null;
  return (
    <div class="guest-queue">
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {waiting.map((g) => (
        <WaitingLine key={g.id} g={g} appointmentId={appointmentId} canAdmit={canAdmit} onChanged={() => void reload()} onError={setError} />
      ))}
    </div>
  );
}
