import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { InputError } from "../shared/errors.ts";
import { isValidationHandshake } from "../shared/events/azure.ts";
import { onChange } from "../shared/usecases/on-change.ts";
import { contextLogger, type DepsFactory, environmentDeps } from "./runtime.ts";

/**
 * Webhook delivery (an Event Grid subscription pointing at this HTTP endpoint): answers the validation handshakes,
 * then runs the batch. Status codes follow Event Grid's retry rules: 400 is not retried (malformed input),
 * 503 is (a dependency that may recover).
 */
export function createOnChangeHttpHandler(deps: DepsFactory) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    if (request.method === "OPTIONS") {
      // CloudEvents 1.0 abuse-protection handshake.
      const origin = request.headers.get("webhook-request-origin");
      return origin ? { status: 200, headers: { "WebHook-Allowed-Origin": origin } } : { status: 400 };
    }
    let body: unknown;
    try {
      body = JSON.parse(await request.text());
    } catch {
      return { status: 400, jsonBody: { error: "request body is not JSON" } };
    }
    const handshake = isValidationHandshake(body);
    if (handshake) return { status: 200, jsonBody: { validationResponse: handshake.validationCode } };
    const log = contextLogger(context);
    let ready: Awaited<ReturnType<DepsFactory>>;
    try {
      ready = await deps(log);
    } catch (error) {
      // The guardian's own configuration or policy is broken: not the sender's fault, so a status Event Grid retries.
      log.error("guardian.unavailable", { message: error instanceof Error ? error.message : String(error) });
      return { status: 503, jsonBody: { error: "the guardian is not configured correctly; see its logs" } };
    }
    try {
      const result = await onChange(body, ready);
      if (result.retryable) return { status: 503, jsonBody: { error: "a dependency failed; retry later" } };
      if (result.unprocessable.length > 0) {
        // The rest of the batch was handled; 400 makes Event Grid dead-letter the delivery instead of dropping it.
        return {
          status: 400,
          jsonBody: { error: "some events cannot be handled", details: result.unprocessable },
        };
      }
      return {
        status: 200,
        jsonBody: { changes: result.outcomes.length, skipped: result.skipped.map((s) => ({ ...s })) },
      };
    } catch (error) {
      if (error instanceof InputError) return { status: 400, jsonBody: { error: error.message } };
      throw error;
    }
  };
}

app.http("onChangeHttp", {
  methods: ["POST", "OPTIONS"],
  authLevel: "function",
  route: "events",
  handler: createOnChangeHttpHandler(environmentDeps()),
});
