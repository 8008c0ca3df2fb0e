import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { extraAttributesOf, isKeptElsewhere } from './extra-attributes.js';
import type { FaultQueue } from './faults.js';
import { isPasswordPath } from './password-guard.js';
import type { ServerProfile } from './profile.js';
import { NO_EXTRA_ATTRIBUTES, type ExtraAttributes } from './records.js';
import type { RequestLog } from './request-log.js';
import type { ScimStore } from './store.js';
import {
  faultSpecSchema,
  integrationSwitchSchema,
  tokenChangeSchema,
  seedUserSchema,
  type ScimServerInfo,
  type ScimServerState,
  type SeedUserInput,
} from './test-api-schema.js';

/** What the inspection API reads and resets. */
export interface TestApiContext {
  readonly store: ScimStore;
  readonly profile: ServerProfile;
  readonly log: RequestLog;
  readonly faults: FaultQueue;
  /** Replaces the Bearer token the SCIM endpoints accept: Kestra regenerating the Secret Token. */
  readonly setToken: (token: string) => void;
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
      extra: { ...user.extra },
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

/** The seed's extra attributes as the profile keeps them, or why they cannot be seeded. */
function seedExtra(
  extra: SeedUserInput['extra'],
  profile: ServerProfile,
): ExtraAttributes | string {
  if (extra === undefined) return NO_EXTRA_ATTRIBUTES;
  for (const key of Object.keys(extra)) {
    if (isPasswordPath(key)) return `extra.${key}: the server never stores a password`;
    if (isKeptElsewhere(key)) return `extra.${key}: not an extra attribute; use its own field`;
  }
  return profile.keepsExtraAttributes ? extraAttributesOf(extra) : NO_EXTRA_ATTRIBUTES;
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

  router.get('/info', (_req, res) => {
    const info: ScimServerInfo = {
      profile: ctx.profile.name,
      patchDelayMs: ctx.profile.patchDelayMs,
    };
    res.json(info);
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

  router.put('/token', (req, res) => {
    const body = parseBody(tokenChangeSchema, req, res);
    if (body === undefined) return;
    ctx.setToken(body.token);
    // The token is never echoed: the answer only confirms the change.
    res.status(204).end();
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
    // Without Kestra's tenant access, a user either exists over SCIM or does not exist.
    const accessOptional = ctx.profile.userDelete === 'revoke-access';
    const tenantAccess = seed.tenantAccess ?? !accessOptional;
    if (!tenantAccess && !accessOptional) {
      res.status(400).json({
        error: `tenantAccess: the ${ctx.profile.name} profile has no users without tenant access`,
      });
      return;
    }
    const extra = seedExtra(seed.extra, ctx.profile);
    if (typeof extra === 'string') {
      res.status(400).json({ error: extra });
      return;
    }
    const { user } = ctx.store.createUser(
      {
        userName: seed.userName,
        externalId: seed.externalId,
        givenName: seed.givenName,
        familyName: seed.familyName,
        emails: seed.emails,
        active: seed.active,
      },
      tenantAccess,
      extra,
    );
    res.status(201).json({ id: user.id });
  });

  router.use((req, res) => {
    res.status(404).json({ error: `no test endpoint ${req.method} ${req.path}` });
  });
  return router;
}
