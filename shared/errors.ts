// Few error classes, each one a different action for the caller.

/**
 * The longest message an error carries. Messages quote input (an id, a field) and travel into logs, HTTP answers and
 * alerts: a 50 MB id must not be echoed whole. Long enough for every problem of a policy file.
 */
export const MAX_ERROR_MESSAGE = 4_096;

/** `text` cut to `max` characters, saying how much was left out. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[+${text.length - max} chars]`;
}

/**
 * The input is wrong and retrying will not help: a malformed event, a policy with a typo, an unknown
 * resource type. Callers reject (HTTP 400, CLI exit 2) or dead-letter it, and say what is wrong.
 */
export class InputError extends Error {
  override readonly name = "InputError";
  /** Where in the input: a YAML path such as `rules[2].mode`, or a JSON pointer into an event. */
  readonly path: string | undefined;
  /** 1-based line in the source file, when known. */
  readonly line: number | undefined;
  constructor(message: string, where: { path?: string; line?: number; cause?: unknown } = {}) {
    super(clip(message, MAX_ERROR_MESSAGE), { cause: where.cause });
    this.path = where.path === undefined ? undefined : clip(where.path, 256);
    this.line = where.line;
  }
}

/**
 * Someone else changed the resource between our read and our write (HTTP 412 on If-Match).
 * The caller re-reads and re-evaluates; it never retries the same write.
 */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
  readonly resourceId: string;
  constructor(message: string, resourceId: string, options?: { cause?: unknown }) {
    super(clip(message, MAX_ERROR_MESSAGE), options);
    this.resourceId = resourceId;
  }
}

/**
 * A dependency failed in a way that may pass (throttled beyond the SDK's retries, a webhook that is
 * down, a network fault). The caller lets the platform retry the whole event, or dead-letters it.
 */
export class TransientError extends Error {
  override readonly name: string = "TransientError";
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(clip(message, MAX_ERROR_MESSAGE), { cause: options?.cause });
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * The cloud refused to show or change a resource (HTTP 401/403: no permission, a subscription of another tenant).
 * Retrying will not help. A read of another resource that a rule only consults (a storage firewall rule's virtual
 * network) records it as unreadable and the rule says so; anywhere else it is a permanent failure.
 */
export class RefusedError extends Error {
  override readonly name = "RefusedError";
}

/**
 * A write was sent but its answer was lost (a reset or timeout after the request left, a long-running operation whose
 * poll failed, a retry that met 409/412/NotFound after an earlier attempt may have landed). The write may or may not
 * have been applied: the caller re-reads and reports what is true (fixed by the guardian, fixed by someone else, still
 * open), never guesses. Transient: if the re-read cannot settle it, the event is retried.
 */
export class OutcomeUnknownError extends TransientError {
  override readonly name = "OutcomeUnknownError";
}

/** What went wrong reading or writing a file, in words a person acts on rather than an errno: `cannot read x: …`. */
export function fileProblem(
  file: string,
  cause: unknown,
  doing: "read" | "write" = "read",
  what = "",
): string {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    code === "EISDIR"
      ? "it is a folder, not a file"
      : code === "ENOENT"
        ? doing === "read"
          ? "no such file"
          : "its folder does not exist"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied"
          : // mkdir of a folder on the way answers EEXIST when a file has that name.
            code === "ENOTDIR" || (code === "EEXIST" && doing === "write")
            ? "a part of the path is a file, not a folder"
            : cause instanceof Error
              ? cause.message
              : String(cause);
  return `cannot ${doing} ${what ? `${what} ` : ""}${clip(file, 200)}: ${reason}`;
}
