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
// What a status menu sets: snoozing needs a time, so it is the snooze button's (one set from a
// menu had none and slept for ever, a trial).
export const SETTABLE_STATUSES = STATUSES.filter((s) => s !== "snoozed");
export const PRIORITIES = ["low", "normal", "high", "urgent"];
export const CHANNELS = ["webchat", "email", "telegram", "slack", "webhook", "phone"];
export const ICONS = { webchat: "💬", email: "✉️", telegram: "✈️", slack: "#", webhook: "🔗", phone: "📞" };
