// A throwaway self-signed certificate per emulator, valid for 127.0.0.1 and localhost, so the real SDK talks real TLS.

import { generate } from "selfsigned";

export interface EmulatorCertificate {
  key: string;
  cert: string;
}

export async function generateCertificate(): Promise<EmulatorCertificate> {
  const pems = await generate([{ name: "commonName", value: "arm-emulator.localhost" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 7 * 24 * 3600 * 1000),
    extensions: [
      // Trusted directly as `ca` by clients, so it acts as its own CA.
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyCertSign: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
