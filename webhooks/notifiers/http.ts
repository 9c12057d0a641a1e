/**
 * One HTTP request of a notifier, with a timeout, and its outcome sorted into: done, worth a retry
 * (network, 408, 429, 5xx, GitHub's rate-limit 403), or not (any other 4xx: retrying would fail
 * the same way). Messages name the request by a label the notifier gives, never by its URL: a Slack
 * webhook URL is itself a secret, and no token ever reaches a message.
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface JsonResponse {
  status: number;
  body: unknown;
  headers: Headers;
}

const TIMEOUT_MS = 10_000;

function retryAfter(headers: Headers): number | undefined {
  const v = headers.get('retry-after');
  if (v && /^\d+$/.test(v)) return Number(v) * 1000;
  const reset = headers.get('x-ratelimit-reset');
  if (headers.get('x-ratelimit-remaining') === '0' && reset && /^\d+$/.test(reset)) return Math.max(0, Number(reset) * 1000 - Date.now());
  return undefined;
}

export async function sendJson(label: string, url: string, init: { method: string; headers?: Record<string, string>; body?: unknown }): Promise<JsonResponse> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: { accept: 'application/json', 'user-agent': 'corral', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw new DeliveryError(`${label}: no answer (${cause})`, true);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (Slack answers "ok"): keep the text.
  }
  if (res.ok) return { status: res.status, body, headers: res.headers };
  const wait = retryAfter(res.headers);
  const rateLimited = res.status === 429 || (res.status === 403 && wait !== undefined);
  const retryable = rateLimited || res.status === 408 || res.status >= 500;
  const detail = typeof body === 'object' && body !== null && 'message' in body ? `: ${String((body).message).slice(0, 200)}` : '';
  throw new DeliveryError(`${label}: HTTP ${res.status}${detail}`, retryable, wait);
}
