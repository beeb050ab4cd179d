// ARM error envelope: every failure leaves the emulator as {"error":{"code","message"[,"details"]}}, the CloudError
// shape of the REST specs (network.json#/definitions/CloudError), so SDK RestErrors carry the real code.

export interface ArmErrorDetail {
  code: string;
  message: string;
}

export class ArmError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ArmErrorDetail[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { details?: ArmErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "ArmError";
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }

  toBody(): { error: { code: string; message: string; details?: ArmErrorDetail[] } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export function badRequest(code: string, message: string): ArmError {
  return new ArmError(400, code, message);
}

/** Network RP's answer to a body it cannot deserialise (malformed JSON, a value that is not of the enum type). */
export function invalidRequestFormat(detail: string): ArmError {
  return new ArmError(400, "InvalidRequestFormat", "Cannot parse the request.", {
    details: [{ code: "InvalidJson", message: detail }],
  });
}

/** ARM's own 404 for a tracked (top-level) resource. */
export function resourceNotFound(resourceType: string, name: string, resourceGroup: string): ArmError {
  return new ArmError(
    404,
    "ResourceNotFound",
    `The Resource '${resourceType}/${name}' under resource group '${resourceGroup}' was not found. ` +
      "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
  );
}

/** The Network RP's 404 for a missing child resource (a security rule, a subnet). */
export function childNotFound(id: string): ArmError {
  return new ArmError(404, "NotFound", `Resource ${id} not found.`);
}
