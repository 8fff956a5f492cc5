// The provider in the visit: video, guests (invite, admit, revoke) and chat beside it, end visit → the visit record.
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../shared/api.js';
import { ChatPanel, mergeMessage, type ChatMessage } from '../shared/chat-panel.js';
import { connectEvents } from '../shared/live-events.js';
import { savedDevices, VisitRoom, type JoinInfo } from '../shared/visit-room.js';
import { handleError, navigate, sessionEnded, type Me } from './main.js';
import { ROLE_NAMES, useVisitGuests } from './guest-panel.js';
import { PHONE_ROLE_NAMES, usePhoneCalls } from './phone-panel.js';
import { useInterpreterRequests } from './interpreter-panel.js';

const LABELS = {
  connecting: 'Connecting to the visit…',
  reconnecting: 'Connection lost, reconnecting…',
  waitingForOthers: 'Waiting for the patient to join…',
  mute: 'Mute',
  unmute: 'Unmute',
  cameraOff: 'Stop video',
  cameraOn: 'Start video',
  flip: 'Flip',
  chat: 'Chat',
  devices: 'Devices',
  camera: 'Camera',
  microphone: 'Microphone',
  you: 'You',
  network: 'Network',
  leave: 'Leave',
  roles: { ...ROLE_NAMES, ...PHONE_ROLE_NAMES },
};

export function VisitPage({ appointmentId }: { me: Me; appointmentId: string }) {
  const [chat, setChat] = useState<ChatMessage[]>([]);
  const [sideOpen, setSideOpen] = useState(window.innerWidth > 900);
  const [unread, setUnread] = useState(0);
  const [ended, setEnded] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const guests = useVisitGuests(appointmentId);
  const phones = usePhoneCalls(appointmentId);
  const interpreters = useInterpreterRequests(appointmentId);

  useEffect(() => {
    get<ChatMessage[]>(`/api/appointments/${appointmentId}/chat`).then(setChat, (err) => handleError(err, setError));
    return connectEvents(
      'staff',
      (e) => {
        if (e.type === 'appointment.changed' && e.appointmentId === appointmentId) void guests.reload();
        if (e.type === 'phone.status' && e.appointmentId === appointmentId) phones.onEvent(e.call);
        if (e.type === 'interpreter.status' && e.appointmentId === appointmentId) interpreters.onEvent(e.request);
        if (e.type === 'chat' && e.appointmentId === appointmentId) {
          setChat((l) => mergeMessage(l, e.message));
          if ((e.message as ChatMessage).from !== 'staff') setUnread((n) => n + 1);
        }
      },
      sessionEnded,
    );
  }, [appointmentId]);

  if (ended || error) {
    return (
      <main class="page" style={{ maxWidth: '560px', paddingTop: '10vh' }}>
        <div class="card">
          <h1>{ended ? 'The visit has ended' : 'Could not open the visit'}</h1>
          <p>{ended ?? error}</p>
          <div class="actions">
            <button onClick={() => navigate(`/staff/record/${appointmentId}`)}>Open the visit record</button>
            <button class="secondary" onClick={() => navigate('/staff')}>
              Back to today
            </button>
          </div>
        </div>
      </main>
    );
  }

  return (
    <VisitRoom
      join={() => post<JoinInfo>(`/api/appointments/${appointmentId}/visit-token`)}
      directory={() => get(`/api/appointments/${appointmentId}/directory`)}
      devices={savedDevices()}
      labels={LABELS}
      sideOpen={sideOpen}
      unread={sideOpen ? 0 : unread}
      onToggleSide={() => {
        setSideOpen(!sideOpen);
        setUnread(0);
      }}
      notice={
        <>
          {guests.notice}
          {phones.notice}
          {interpreters.notice}
        </>
      }
      extraControls={
        <>
          {guests.controls}
          {phones.controls}
        </>
      }
      side={
        <>
          {/* Guests, calls and interpreter requests scroll on their own; the chat keeps its share below. */}
          <div style={{ flex: '0 1 auto', maxHeight: '58%', overflowY: 'auto' }}>
            {guests.panel}
            {phones.panel}
            {interpreters.panel}
          </div>
          <div class="section-title" style={{ padding: '0.8em 1em 0', marginBottom: 0 }}>
            <h2 style={{ margin: 0 }}>Chat</h2>
          </div>
          <ChatPanel
            messages={chat}
            mine="staff"
            labels={{ title: 'Visit chat', placeholder: 'Message…', send: 'Send', empty: 'Messages you send appear here and on the patient’s screen.' }}
            onSend={async (text) => {
              const m = await post<ChatMessage>(`/api/appointments/${appointmentId}/chat`, { text });
              setChat((l) => mergeMessage(l, m));
            }}
          />
        </>
      }
      endButton={{
        label: 'End visit',
        danger: true,
        onClick: async (room) => {
          if (!confirm('End the visit for everyone?')) return;
          try {
            await post(`/api/appointments/${appointmentId}/end`);
            room?.disconnect();
            navigate(`/staff/record/${appointmentId}`);
          } catch (err) {
            handleError(err, setError);
          }
        },
      }}
      onDisconnected={(err) => {
        if (err?.code === 53118) setEnded('The visit room was closed.');
        else if (err) setEnded(`You were disconnected (${err.message}). Rejoin from the dashboard while the visit is open.`);
      }}
    />
  );
}
