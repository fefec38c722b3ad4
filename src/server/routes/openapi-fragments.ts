import { Type } from '@sinclair/typebox';

const problemContent = { 'application/problem+json': { schema: Type.Ref('Problem') } };

/** The error responses every route documents: RFC 9457 problem details. */
export const errorResponses = {
  '4xx': { description: 'A client error, as RFC 9457 problem details', content: problemContent },
  '5xx': { description: 'A gateway or upstream error, as RFC 9457 problem details', content: problemContent },
} as const;
