import SCIMMY from 'scimmy';
import { GROUP_SCHEMA, USER_SCHEMA } from './records.js';
import { LIST_RESPONSE_SCHEMA } from './scim-response.js';

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';

/**
 * What this server advertises, as Kestra's endpoint is documented: PATCH and filtering yes;
 * bulk, password change, sorting and ETags no. The generic profile serves ETags (`etag`).
 */
export function serviceProviderConfig(baseUrl: string, maxPageSize: number, etag = false): object {
  return {
    schemas: [SPC_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: maxPageSize },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: etag },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'The Secret Token of the SCIM integration, sent as a Bearer token',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

/** The User and Group resource types; the descriptions come from SCIMMY. */
export function resourceTypes(baseUrl: string): Record<string, unknown>[] {
  // SCIMMY's typings omit the `schema` its descriptions carry, so the URN is paired here.
  const types = [
    [SCIMMY.Resources.User, USER_SCHEMA],
    [SCIMMY.Resources.Group, GROUP_SCHEMA],
  ] as const;
  return types.map(([resource, schema]) => {
    const description = resource.describe();
    return {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: description.id,
      name: description.name,
      endpoint: description.endpoint,
      description: description.description,
      schema,
      meta: {
        resourceType: 'ResourceType',
        location: `${baseUrl}/ResourceTypes/${description.id}`,
      },
    };
  });
}

/**
 * The RFC 7643 core User and Group schemas, as SCIMMY defines them. Like SCIMple, the server
 * publishes the full core schemas even though Kestra keeps only some of their attributes.
 */
export function schemas(baseUrl: string): Record<string, unknown>[] {
  return [SCIMMY.Schemas.User, SCIMMY.Schemas.Group].map((schema) =>
    schema.definition.describe(`${baseUrl}/Schemas`),
  );
}

/** Wraps discovery resources in a ListResponse, all on one page. */
export function listOf(resources: readonly unknown[]): object {
  return {
    schemas: [LIST_RESPONSE_SCHEMA],
    totalResults: resources.length,
    itemsPerPage: resources.length,
    startIndex: 1,
    Resources: resources,
  };
}
