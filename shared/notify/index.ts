// Alerts: the decision model, its renderings (Slack, Teams, generic JSON), destinations and routing, the outbox.
export {
  CHANNEL_TYPES,
  type ChannelType,
  channelsFrom,
  type Destination,
  urlProblem,
  WebhookChannel,
} from "./channels.ts";
export {
  DEFAULT_RETRY,
  parseRetryAfter,
  type RetryPolicy,
  redactor,
  WebhookDeliveryError,
} from "./deliver.ts";
export { alertPayloadJsonSchema, renderJson } from "./json.ts";
export { type AlertDecision, DECISION_KINDS, type DecisionKind, decisionsOf } from "./model.ts";
export { type ChannelReport, type OutboxPort, QueueOutbox, type QueuePort } from "./outbox.ts";
export {
  escapeMrkdwn,
  renderSlack,
  SLACK_MAX_BLOCKS,
  SLACK_MAX_HEADER_TEXT,
  SLACK_MAX_SECTION_TEXT,
} from "./slack.ts";
export { ADAPTIVE_CARD_VERSION, escapeMarkdown, renderTeams, TEAMS_MAX_BYTES } from "./teams.ts";
export type { Alert } from "./types.ts";
