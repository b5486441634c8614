/** Row mapping shared by the account repositories. */
export function isoOrNull(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}
