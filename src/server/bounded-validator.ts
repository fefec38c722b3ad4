/**
 * Request validation whose cost is bounded by the size of the body, never by the number of problems in
 * it (issue 16, finding 1: a body of 30,000 messages with the wrong `content` type took 34 s to refuse
 * with Ajv's `allErrors`, and the event loop waited with it).
 *
 * Each schema is compiled twice by Fastify's own compiler: once stopping at the first error (every
 * request runs this one; a valid body costs what it always did) and once collecting every error, which
 * runs only for a refused body small enough that listing all of its problems is cheap. A larger refused
 * body is answered with its first problem.
 */
import AjvCompiler from '@fastify/ajv-compiler';

/** Bodies up to this size get every problem listed; larger ones get the first. */
export const LIST_ALL_ERRORS_MAX_BYTES = 64 * 1024;

/** The size of each parsed JSON body (objects and arrays only), as the content-type parser saw it. */
const bodySizes = new WeakMap<object, number>();

export function rememberBodySize(value: unknown, bytes: number): void {
  if (typeof value === 'object' && value !== null) bodySizes.set(value, bytes);
}

type Validate = ((data: unknown) => boolean) & { errors?: unknown };
type BuildValidator = AjvCompiler.BuildCompilerFromPool;
type RouteCompiler = ReturnType<BuildValidator>;

/** A `compilersFactory.buildValidator` for Fastify: first-error validation, all errors for small bodies. */
export function boundedValidatorFactory(): BuildValidator {
  const build = AjvCompiler();
  return (externalSchemas, options) => {
    if (options?.mode === 'JTD') return build(externalSchemas, options);
    const firstError = build(externalSchemas, {
      ...options,
      customOptions: { ...options?.customOptions, allErrors: false },
    });
    const allErrors = build(externalSchemas, {
      ...options,
      customOptions: { ...options?.customOptions, allErrors: true },
    });
    const compile: RouteCompiler = (route) =>
      boundedValidator(
        firstError(route) as Validate,
        () => allErrors(route) as Validate,
      ) as ReturnType<RouteCompiler>;
    return compile;
  };
}

function boundedValidator(first: Validate, compileAll: () => Validate): Validate {
  let all: Validate | null = null;
  const validate: Validate = (data) => {
    if (first(data)) return true;
    const bytes = typeof data === 'object' && data !== null ? bodySizes.get(data) : undefined;
    // Query strings and params are small (bounded by the URL); bodies are listed in full when small.
    if (bytes === undefined || bytes <= LIST_ALL_ERRORS_MAX_BYTES) {
      all ??= compileAll();
      all(data);
      validate.errors = all.errors ?? first.errors ?? null;
    } else {
      validate.errors = first.errors ?? null;
    }
    return false;
  };
  return validate;
}
