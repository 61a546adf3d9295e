/** Registry errors, shared by the local and MLflow implementations (one place for the messages). */
export type RegistryErrorCode = 'NOT_FOUND' | 'ALREADY_EXISTS' | 'INVALID' | 'UNAVAILABLE' | 'CONFLICT';

export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RegistryError';
  }
}

const NAME = /^[A-Za-z0-9][-A-Za-z0-9_.]*$/;
const ALIAS = /^[A-Za-z_][-A-Za-z0-9_]*$/;

/** Whether `name` is a valid registered model name (checkModelName's rule, without the error). */
export function isModelName(name: string): boolean {
  return NAME.test(name) && name.length <= 200;
}

export function checkModelName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name) || name.length > 200) {
    throw new RegistryError('INVALID', `'${name}' is not a valid model name; use letters, digits, '-', '_' and '.', starting with a letter or digit`);
  }
}

/** 'latest' and 'v<digits>' are reserved (MLflow reserves them too), as are pure numbers. */
export function checkAlias(alias: string): void {
  if (typeof alias !== 'string' || !ALIAS.test(alias) || alias === 'latest' || /^v\d+$/i.test(alias) || alias.length > 255) {
    throw new RegistryError(
      'INVALID',
      `'${alias}' is not a valid alias; use letters, digits, '-' and '_', starting with a letter (not 'latest' or v<number>), e.g. champion`,
    );
  }
}

export const notFoundModel = (name: string, where: string, known: readonly string[]): RegistryError =>
  new RegistryError(
    'NOT_FOUND',
    `model '${name}' is not registered in ${where}${known.length ? `; registered models: ${known.join(', ')}` : ' (the registry is empty)'}`,
  );

export const notFoundVersion = (name: string, version: number, latest: number | undefined): RegistryError =>
  new RegistryError('NOT_FOUND', `model '${name}' has no version ${version}${latest ? ` (versions 1..${latest})` : ' (it has no versions)'}`);

export const notFoundAlias = (name: string, alias: string, aliases: readonly string[]): RegistryError =>
  new RegistryError('NOT_FOUND', `model '${name}' has no alias '${alias}'${aliases.length ? `; its aliases: ${aliases.join(', ')}` : ' (it has no aliases)'}`);
