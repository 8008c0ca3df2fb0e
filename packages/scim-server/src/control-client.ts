import { z } from 'zod';
import { PermanentError } from './errors.js';
import {
  requestLogSchema,
  serverInfoSchema,
  stateSchema,
  type FaultSpecInput,
  type RequestLogEntry,
  type ScimServerInfo,
  type ScimServerState,
  type SeedUserInput,
} from './test-api-schema.js';

const faultIdSchema = z.object({ id: z.number().int() });
const userIdSchema = z.object({ id: z.string() });

/**
 * A typed client for the SCIM server's inspection API (`/_test/`), for tests and benchmarks.
 * The server must run with the test API on (`testApi: true` or `--test-api`).
 */
export class ScimServerControl {
  readonly #origin: string;

  /** @param origin e.g. `http://127.0.0.1:PORT` (`RunningScimServer.origin`). */
  constructor(origin: string) {
    this.#origin = origin.replace(/\/+$/, '');
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.#origin}/_test${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new PermanentError(
        `SCIM server test API ${method} /_test${path} answered HTTP ${response.status}: ${text}`,
      );
    }
    return text === '' ? undefined : JSON.parse(text);
  }

  /** Every global user (with its tenant-access flag) and every group with its member ids. */
  async state(): Promise<ScimServerState> {
    return stateSchema.parse(await this.#call('GET', '/state'));
  }

  /** Which profile the server plays (`kestra` or `generic`) and its PATCH delay. */
  async info(): Promise<ScimServerInfo> {
    return serverInfoSchema.parse(await this.#call('GET', '/info'));
  }

  /** The SCIM requests received, oldest first; with `since`, only those after that `seq`. */
  async requests(options: { since?: number } = {}): Promise<RequestLogEntry[]> {
    const query = options.since === undefined ? '' : `?since=${options.since}`;
    return requestLogSchema.parse(await this.#call('GET', `/requests${query}`)).requests;
  }

  async clearRequests(): Promise<void> {
    await this.#call('DELETE', '/requests');
  }

  /** Clears users, groups, the request log and pending faults; enables the integration. */
  async reset(): Promise<void> {
    await this.#call('POST', '/reset');
  }

  /** Switches the integration on or off; off answers every SCIM request with 403. */
  async setEnabled(enabled: boolean): Promise<void> {
    await this.#call('PUT', '/integration', { enabled });
  }

  /**
   * Makes the SCIM endpoints accept `token` instead of the one they accepted so far, as Kestra
   * does when an integration's Secret Token is regenerated: the old one answers 401 from now on.
   */
  async setToken(token: string): Promise<void> {
    await this.#call('PUT', '/token', { token });
  }

  /** Queues a fault for the next matching SCIM requests; see `faultSpecSchema`. */
  async injectFaults(spec: FaultSpecInput): Promise<{ id: number }> {
    return faultIdSchema.parse(await this.#call('POST', '/faults', spec));
  }

  /** Drops every fault still waiting. */
  async clearFaults(): Promise<void> {
    await this.#call('DELETE', '/faults');
  }

  /**
   * Creates a global user directly, by default without access to this tenant: a Kestra user
   * that exists already, e.g. one created in another tenant or by hand. In the generic
   * profile the user is visible over SCIM; `extra` attributes (e.g. `title`) are kept there,
   * so a test can check that a client's write did not clear them.
   */
  async seedUser(user: SeedUserInput): Promise<{ id: string }> {
    return userIdSchema.parse(await this.#call('POST', '/users', user));
  }
}
