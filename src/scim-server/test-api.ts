import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { FaultQueue } from './faults.js';
import type { RequestLog } from './request-log.js';
import type { ScimStore } from './store.js';
import {
  faultSpecSchema,
  integrationSwitchSchema,
  seedUserSchema,
  type ScimServerState,
} from './test-api-schema.js';

/** What the inspection API reads and resets. */
export interface TestApiContext {
  readonly store: ScimStore;
  readonly log: RequestLog;
  readonly faults: FaultQueue;
}

function parseBody<T>(schema: z.ZodType<T>, req: Request, res: Response): T | undefined {
  const parsed = schema.safeParse(req.body);
  if (parsed.success) return parsed.data;
  res.status(400).json({ error: z.prettifyError(parsed.error) });
  return undefined;
}

/** Everything the store holds, in the shape `ScimServerControl.state()` returns. */
export function snapshot(store: ScimStore): ScimServerState {
  return {
    integrationEnabled: store.enabled,
    users: Array.from(store.allUsers(), (user) => ({
      id: user.id,
      ...user.attributes,
      emails: [...user.attributes.emails],
      tenantAccess: user.tenantAccess,
      created: user.created.toISOString(),
      lastModified: user.lastModified.toISOString(),
    })),
    groups: Array.from(store.allGroups(), (group) => ({
      id: group.id,
      ...group.attributes,
      members: [...group.members.keys()],
      created: group.created.toISOString(),
      lastModified: group.lastModified.toISOString(),
    })),
  };
}

/**
 * The inspection and fault-injection API under `/_test/`: no auth, and mounted only when the
 * server is started with the test API on. Never part of what Kestra offers.
 */
export function testApiRoutes(ctx: TestApiContext): Router {
  const router = express.Router();
  router.use(express.json({ limit: '10mb' }));

  router.get('/state', (_req, res) => {
    res.json(snapshot(ctx.store));
  });

  router.get('/requests', (req, res) => {
    const since = Number(new URL(req.originalUrl, 'http://localhost').searchParams.get('since'));
    res.json({ requests: ctx.log.entries(Number.isFinite(since) ? since : 0) });
  });

  router.delete('/requests', (_req, res) => {
    ctx.log.clear();
    res.status(204).end();
  });

  router.post('/reset', (_req, res) => {
    ctx.store.reset();
    ctx.log.clear();
    ctx.faults.clear();
    res.status(204).end();
  });

  router.put('/integration', (req, res) => {
    const body = parseBody(integrationSwitchSchema, req, res);
    if (body === undefined) return;
    ctx.store.enabled = body.enabled;
    res.json({ enabled: ctx.store.enabled });
  });

  router.post('/faults', (req, res) => {
    const spec = parseBody(faultSpecSchema, req, res);
    if (spec === undefined) return;
    res.status(201).json({ id: ctx.faults.add(spec) });
  });

  router.get('/faults', (_req, res) => {
    res.json({ faults: ctx.faults.pending() });
  });

  router.delete('/faults', (_req, res) => {
    ctx.faults.clear();
    res.status(204).end();
  });

  router.post('/users', (req, res) => {
    const seed = parseBody(seedUserSchema, req, res);
    if (seed === undefined) return;
    const { user } = ctx.store.createUser(
      {
        userName: seed.userName,
        externalId: seed.externalId,
        givenName: seed.givenName,
        familyName: seed.familyName,
        emails: seed.emails,
        active: seed.active,
      },
      seed.tenantAccess,
    );
    res.status(201).json({ id: user.id });
  });

  router.use((req, res) => {
    res.status(404).json({ error: `no test endpoint ${req.method} ${req.path}` });
  });
  return router;
}
