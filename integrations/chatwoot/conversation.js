// Chatwoot's appContext message, checked field by field, and the conversation as a /v1/suggest request.

export const FETCH_INFO = "chatwoot-dashboard-app:fetch-info";
// Chatwoot's message_type values (app/javascript/shared/constants/messages.js).
const INCOMING = 0;
const OUTGOING = 1;

function isRecord(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The conversation from an appContext message, or null for anything else. Chatwoot posts a JSON string
 * {event: "appContext", data: {conversation, contact, currentAgent}}; an object of that shape is taken too.
 */
export function parseAppContext(raw) {
  let message = raw;
  if (typeof raw === "string") {
    try {
      message = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  if (!isRecord(message) || message.event !== "appContext" || !isRecord(message.data)) return null;
  const { conversation } = message.data;
  if (!isRecord(conversation) || !Array.isArray(conversation.messages)) return null;
  return conversation;
}

/** The subject of an email conversation; chats have none. */
function subjectOf(conversation) {
  const attributes = conversation.additional_attributes;
  return isRecord(attributes) && typeof attributes.mail_subject === "string" ? attributes.mail_subject : "";
}

/**
 * The suggest request for a conversation: incoming messages are the customer's, outgoing the agents';
 * private notes, activity and template messages are left out, and so are messages without text.
 */
export function ticketFromChatwoot(conversation) {
  const messages = conversation.messages
    .filter((m) => isRecord(m) && m.private !== true && typeof m.content === "string" && m.content.trim() !== "")
    .filter((m) => m.message_type === INCOMING || m.message_type === OUTGOING)
    .map((m, index) => ({ m, index, at: typeof m.created_at === "number" ? m.created_at : null }))
    // Oldest first, as /v1/suggest reads them; Chatwoot already sends them so, but a merged list may not be.
    .sort((a, b) => (a.at !== null && b.at !== null ? a.at - b.at : 0) || a.index - b.index)
    .map(({ m }) => ({ author: m.message_type === INCOMING ? "customer" : "agent", text: m.content }));
  return { subject: subjectOf(conversation), messages };
}

/** A fingerprint of what the suggestions depend on, so a repeated appContext does not ask again. */
export function ticketKey(conversationId, ticket) {
  return JSON.stringify([conversationId, ticket]);
}
