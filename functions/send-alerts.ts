import { app, type InvocationContext } from "@azure/functions";
import { handleOutboxMessage } from "../shared/usecases/send-alerts.ts";
import { contextLogger, type SenderFactory, senderDeps } from "./runtime.ts";

/**
 * The alert sender, on the outbox Storage queue. The host hands over one message per invocation (decoded from
 * base64, and parsed when it is JSON); a thrown error makes the host retry it, and after `maxDequeueCount` move it to
 * `<queue>-poison`, where the sender also puts what it could not deliver.
 */
export function createSendAlertsHandler(factory: SenderFactory) {
  return async (message: unknown, context: InvocationContext): Promise<void> => {
    const deps = await factory(contextLogger(context));
    const body = typeof message === "string" ? message : JSON.stringify(message);
    await handleOutboxMessage(body, deps);
  };
}

app.storageQueue("sendAlerts", {
  queueName: "%GUARDIAN_ALERT_QUEUE%",
  connection: "GUARDIAN_ALERTS_STORAGE",
  handler: createSendAlertsHandler(senderDeps()),
});
