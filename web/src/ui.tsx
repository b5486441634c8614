import { t } from './strings';

/** What the client says when a request failed. */
export function errorText(error: unknown): string {
  return t('somethingWrong', { detail: error instanceof Error ? error.message : String(error) });
}

/** A failed request's text, announced to screen readers; nothing while there is none. */
export function ErrorAlert({ error }: { error: string }) {
  return error ? (
    <p role="alert" class="error">
      {error}
    </p>
  ) : null;
}
