/** The HTTP client of the dqs API, for the CLI (server from --server or DQS_URL, token from --token or DQS_TOKEN). */
import { createHash } from 'node:crypto';
import { NdArray, serializeNpy } from '@dqs/grids';
import { UsageError } from './g2s-args';

export class DqsServerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'DqsServerError';
  }
}

export class DqsClient {
  constructor(
    readonly url: string,
    private readonly token?: string,
  ) {}

  static from(server: string | undefined, token: string | undefined): DqsClient {
    const url = (server ?? process.env.DQS_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
    if (!/^https?:\/\//.test(url)) throw new UsageError(`--server must be an http(s) URL (got ${url})`);
    return new DqsClient(url, token ?? process.env.DQS_TOKEN);
  }

  private async request(method: string, path: string, body?: unknown, raw?: Uint8Array): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: BodyInit | undefined;
    if (raw) {
      headers['content-type'] = 'application/octet-stream';
      payload = new Uint8Array(raw) as unknown as BodyInit;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, { method, headers, body: payload });
    } catch (e) {
      throw new DqsServerError(
        0,
        `cannot reach dqs at ${this.url} (${(e as Error).cause ?? (e as Error).message}); start one with 'dqs up', or give --server URL`,
      );
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        const j = (await res.json()) as { message?: string | string[] };
        if (j.message) message = Array.isArray(j.message) ? j.message.join('; ') : j.message;
      } catch {
        /* not JSON */
      }
      throw new DqsServerError(res.status, message);
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  /** Uploads an array once: nothing is sent when the server already has these bytes. */
  async uploadArray(array: NdArray): Promise<string> {
    const bytes = serializeNpy(array);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const head = await fetch(`${this.url}/v1/arrays/${sha}`).catch(() => undefined);
    if (head?.ok) return sha;
    const res = await this.request('POST', '/v1/arrays', undefined, bytes);
    return ((await res.json()) as { sha256: string }).sha256;
  }

  /** Downloads a body; with a progress reporter, shows bytes received against Content-Length. */
  async bytes(
    path: string,
    progress?: { update(done: number, total: number): void; stop(): void },
  ): Promise<Uint8Array> {
    const res = await this.request('GET', path);
    if (!progress || !res.body) return new Uint8Array(await res.arrayBuffer());
    const total = Number(res.headers.get('content-length') ?? 0);
    const parts: Uint8Array[] = [];
    let done = 0;
    try {
      const reader = res.body.getReader();
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        parts.push(value);
        done += value.length;
        if (total > 0) progress.update(done, total);
      }
    } finally {
      progress.stop();
    }
    return Buffer.concat(parts);
  }
}
