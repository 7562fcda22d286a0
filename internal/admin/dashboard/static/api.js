// Calls to the admin API, and where the token lives.
//
// The token is kept in sessionStorage: it lasts as long as the tab, is not
// shared with other tabs, and never appears in a URL (so in no history,
// log or Referer). Every call sends it as Authorization: Bearer.

const KEY = 'baton.admin.token';

export const token = {
  get: () => sessionStorage.getItem(KEY) || '',
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

// APIError is an error answer: the API's {"error", "field", "state"}.
export class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.name = 'APIError';
    this.status = status;
    this.field = (body && body.field) || '';
    this.state = (body && body.state) || '';
  }
}

// authHeaders returns headers carrying the token.
export function authHeaders(extra = {}) {
  return { ...extra, Authorization: `Bearer ${token.get()}` };
}

// readError turns a failed response into an APIError.
export async function readError(res) {
  let body = null;
  try {
    const text = await res.text();
    try { body = JSON.parse(text); } catch { body = { error: text.trim() }; }
  } catch { /* no body */ }
  return new APIError(res.status, body);
}

// call sends one request and returns the JSON answer; an error answer
// throws an APIError, a network failure a TypeError.
export async function call(method, path, body) {
  const init = { method, headers: authHeaders(), cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await readError(res);
  return res.json();
}
