// The visit for someone outside the clinic (patient or invited guest): the room, a chat panel
// that opens on demand with an unread count, and the live events that end it.
import { useEffect, useState } from 'preact/hooks';
import { get, post } from './api.js';
import { ChatPanel, mergeMessage, type ChatLabels, type ChatMessage } from './chat-panel.js';
import { connectEvents, type LiveEvent } from './live-events.js';
import { savedDevices, VisitRoom, type JoinInfo, type VisitLabels } from './visit-room.js';

export function VisitWithChat(props: {
  /** Whose API this page uses: /api/patient or /api/guest. */
  who: 'patient' | 'guest';
  labels: VisitLabels;
  chatLabels: ChatLabels;
  locale: string;
  onLeave: () => void;
  onEnded: () => void;
  /** Disconnected by the server for another reason than the visit ending. */
  onDropped: () => void;
  onEvent?: (e: LiveEvent) => void;
}) {
  const base = `/api/${props.who}`;
  const [chat, setChat] = useState<ChatMessage[]>([]);
  const [sideOpen, setSideOpen] = useState(false);
  const [unread, setUnread] = useState(0);
  useEffect(() => {
    get<ChatMessage[]>(`${base}/chat`).then(setChat, () => undefined);
    return connectEvents(
      props.who,
      (e) => {
        if (e.type === 'chat') {
          setChat((l) => mergeMessage(l, e.message));
          if ((e.message as ChatMessage).from !== props.who) setUnread((n) => n + 1);
        }
        if (e.type === 'ended') props.onEnded();
        props.onEvent?.(e);
      },
      () => undefined,
    );
  }, []);
  return (
    <VisitRoom
      join={() => post<JoinInfo>(`${base}/visit-token`)}
      directory={() => get(`${base}/directory`)}
      devices={savedDevices()}
      labels={props.labels}
      sideOpen={sideOpen}
      unread={sideOpen ? 0 : unread}
      onToggleSide={() => {
        setSideOpen(!sideOpen);
        setUnread(0);
      }}
      side={
        <ChatPanel
          messages={chat}
          mine={props.who}
          locale={props.locale}
          labels={props.chatLabels}
          onSend={async (text) => {
            const m = await post<ChatMessage>(`${base}/chat`, { text });
            setChat((l) => mergeMessage(l, m));
          }}
        />
      }
      endButton={{
        label: props.labels.leave,
        danger: true,
        onClick: (room) => {
          room?.disconnect();
          props.onLeave();
        },
      }}
      onDisconnected={(err) => {
        if (err?.code === 53118) props.onEnded();
        else if (err) props.onDropped();
      }}
    />
  );
}
