// shared/input.ts and the resource-file reader: strict decoding (points 24) and bounds measured without recursion
// (point 20), as units. The CLI tests (test/integration/cli-input.test.ts) run the same through the real command.

import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { checkBounds, decodeText, EVENT_LIMITS } from "../../../shared/input.ts";
import { snapshotsFromJson } from "../../../shared/usecases/snapshots.ts";
import { fixture } from "./fakes.ts";

const TEXT = '{"name": "allow-ssh", "sourceAddressPrefix": "Internet", "note": "naïve — ✓ 𝄞"}';

describe("decodeText", () => {
  it.each([
    ["UTF-8", Buffer.from(TEXT, "utf8")],
    ["UTF-8 with BOM", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TEXT, "utf8")])],
    ["UTF-16 LE with BOM", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TEXT, "utf16le")])],
    ["UTF-16 BE with BOM", Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(TEXT, "utf16le").swap16()])],
  ])("%s decodes to the same text, without the BOM", (_what, bytes) => {
    expect(decodeText(bytes, "f.json")).toBe(TEXT);
  });

  it("names the line and byte of the first invalid UTF-8 sequence", () => {
    const bytes = Buffer.concat([
      Buffer.from('{\n"a": "Inter', "utf8"),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from('net"}'),
    ]);
    expect(() => decodeText(bytes, "f.json")).toThrow(InputError);
    expect(() => decodeText(bytes, "f.json")).toThrow(
      /^f\.json is not valid UTF-8 text at line 2 \(byte 13\)/,
    );
  });

  it("tells a real U+FFFD from a replaced byte", () => {
    const bytes = Buffer.concat([Buffer.from("ok \uFFFD\n", "utf8"), Buffer.from([0xff])]);
    expect(() => decodeText(bytes, "f")).toThrow(/at line 2 \(byte 7\)/);
  });

  it("refuses UTF-16 with an unpaired surrogate, naming UTF-16", () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from([0x00, 0xd8, 0x41, 0x00])]);
    expect(() => decodeText(bytes, "f")).toThrow(/not valid UTF-16LE text/);
  });

  it("an empty file is empty text", () => {
    expect(decodeText(new Uint8Array(), "f")).toBe("");
  });
});

function nestedArrays(depth: number): unknown {
  return JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`);
}

describe("checkBounds", () => {
  it("accepts every real event fixture", () => {
    for (const name of [
      "azure/resource-notifications-created-nsg.eventgrid.json",
      "aws/modify-security-group-rules.json",
    ]) {
      expect(() => checkBounds(fixture(`events/${name}`), EVENT_LIMITS, "the delivery")).not.toThrow();
    }
  });

  it("refuses depth, count and size past the limits, with short messages", () => {
    const limits = { maxDepth: 5, maxNodes: 100, maxChars: 1_000 };
    expect(() => checkBounds(nestedArrays(5), limits, "x")).not.toThrow();
    expect(() => checkBounds(nestedArrays(6), limits, "x")).toThrow(
      "x is nested too deep: more than 5 levels",
    );
    expect(() => checkBounds(nestedArrays(1_000_000), limits, "x")).toThrow(/nested too deep/);
    expect(() =>
      checkBounds(
        Array.from({ length: 100 }, () => 0),
        limits,
        "x",
      ),
    ).toThrow("more than 100 values");
    expect(() => checkBounds({ k: "y".repeat(1_000) }, limits, "x")).toThrow("more than 1000 characters");
    expect(() => checkBounds({ ["k".repeat(1_000)]: 1 }, limits, "x")).toThrow("more than 1000 characters");
  });
});

describe("snapshotsFromJson", () => {
  it("accepts lists of lists a few levels deep", () => {
    const nsg = fixture("azure/nsg/nsg-mixed.json");
    expect(snapshotsFromJson([[{ value: [nsg] }], [nsg]], "f")).toHaveLength(2);
  });

  it("refuses lists nested without end, even when called without the file reader's bounds", () => {
    expect(() => snapshotsFromJson(nestedArrays(9), "f")).toThrow("lists nested more than 8 deep");
    expect(() => snapshotsFromJson(nestedArrays(200_000), "f")).toThrow(InputError);
  });

  it("never echoes a huge id whole", () => {
    let message = "";
    try {
      snapshotsFromJson({ id: `not-an-id-${"z".repeat(1_000_000)}` }, "f");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/is not an Azure resource id/);
    expect(message.length).toBeLessThan(400);
  });
});
