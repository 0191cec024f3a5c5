// The inbox's views (left column) and what each asks the API for. New screens add their
// own entries to the navigation in screens/, not here.
export const VIEWS = [
  ["open", { status: "open" }],
  ["mine", { status: "open", assignee: "me" }],
  ["unassigned", { status: "open", assignee: "unassigned" }],
  ["pending", { status: "pending" }],
  ["snoozed", { status: "snoozed" }],
  ["resolved", { status: "resolved" }],
  ["closed", { status: "closed" }],
  ["all", {}],
];
export const STATUSES = ["open", "pending", "snoozed", "resolved", "closed"];
export const PRIORITIES = ["low", "normal", "high", "urgent"];
export const CHANNELS = ["webchat", "email", "telegram", "slack", "webhook", "phone"];
export const ICONS = { webchat: "💬", email: "✉️", telegram: "✈️", slack: "#", webhook: "🔗", phone: "📞" };
