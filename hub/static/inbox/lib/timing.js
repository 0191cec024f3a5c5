// Calls spread out in time: under steady traffic a plain debounce never fires.

// Run `fn` at most once per `wait` ms while calls keep coming, and never later than
// `maxWait` ms after the first call that is still waiting.
export function throttle(fn, wait, maxWait) {
  let timer = null;
  let firstCall = 0;
  return function schedule() {
    const now = Date.now();
    if (timer === null) firstCall = now;
    else clearTimeout(timer);
    const delay = Math.max(0, Math.min(wait, maxWait - (now - firstCall)));
    timer = setTimeout(() => { timer = null; fn(); }, delay);
  };
}

// Reconnect delays: exponential, capped, with "equal jitter" so that many inboxes
// dropped at once (a deploy) do not come back in the same instant.
export function backoffDelay(attempt, random = Math.random, base = 1000, cap = 30000) {
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}
